"""LeNet on stand-in digits, trained step by step from Python: the work of Caffe's LeNet
tutorial. The train and test nets are written with ``caffe.NetSpec`` (LMDB ``Data`` layers,
batch 64 and 100, pixels scaled to [0, 1]), the solver from a text file (SGD, ``inv`` policy);
``caffe.SGDSolver`` loads it, one forward of each net and one ``step(1)`` come first, then 200
single steps, each followed by a forward of the test net from ``conv1`` on (the first test
batch's scores kept), with a full 100-batch accuracy test every 25 steps. The first layer's
filters, the loss and accuracy curves and the kept scores are drawn with matplotlib (Agg) and
saved.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). Data (``setup``, ``_program_files.write_mnist``): LMDBs of 640 training and 500 test
28 x 28 stand-in digits where Caffe's MNIST example keeps its own.
"""
import os
import sys

STEPS, TEST_EVERY, TEST_BATCHES, KEPT = 200, 25, 100, 8
MNIST = os.path.join("examples", "mnist")
SOLVER_TEXT = """train_net: "{train}"
test_net: "{test}"
test_iter: 100
test_interval: 500
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
display: 100
max_iter: 10000
snapshot: 5000
snapshot_prefix: "{prefix}"
"""


def setup(workdir):
    from _program_files import write_mnist     # this folder is the script's own here
    write_mnist(workdir)


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import caffe
    from caffe import layers as L
    from caffe import params as P

    def lenet(source, batch):
        """conv 20 -> pool -> conv 50 -> pool -> 500 ReLU -> 10 scores, softmax loss."""
        spec = caffe.NetSpec()
        spec.data, spec.label = L.Data(source=source, backend=P.Data.LMDB, batch_size=batch,
                                       transform_param=dict(scale=1.0 / 255), ntop=2)
        top = spec.data
        for i, channels in enumerate((20, 50), 1):
            conv = L.Convolution(top, num_output=channels, kernel_size=5,
                                 weight_filler=dict(type="xavier"))
            setattr(spec, f"conv{i}", conv)
            top = L.Pooling(conv, pool=P.Pooling.MAX, kernel_size=2, stride=2)
            setattr(spec, f"pool{i}", top)
        spec.fc1 = L.InnerProduct(top, num_output=500, weight_filler=dict(type="xavier"))
        spec.relu1 = L.ReLU(spec.fc1, in_place=True)
        spec.score = L.InnerProduct(spec.relu1, num_output=10, weight_filler=dict(type="xavier"))
        spec.loss = L.SoftmaxWithLoss(spec.score, spec.label)
        return spec.to_proto()

    paths = {}
    for phase, batch in (("train", 64), ("test", 100)):
        paths[phase] = os.path.join(MNIST, f"lenet_steps_{phase}.prototxt")
        with open(paths[phase], "w") as f:
            f.write(str(lenet(os.path.join(MNIST, f"mnist_{phase}_lmdb"), batch)))
    solver_path = os.path.join(MNIST, "lenet_steps_solver.prototxt")
    with open(solver_path, "w") as f:
        f.write(SOLVER_TEXT.format(prefix=os.path.join(MNIST, "lenet_steps"), **paths))

    caffe.set_mode_cpu()
    solver = caffe.SGDSolver(solver_path)
    print([(name, blob.data.shape) for name, blob in solver.net.blobs.items()])
    print([(name, params[0].data.shape) for name, params in solver.net.params.items()])
    solver.net.forward()
    solver.test_nets[0].forward()
    solver.step(1)
    test_net = solver.test_nets[0]

    def tile(filters):
        """(n, h, w) -> one image of the n planes side by side, one pixel apart."""
        n, h, w = filters.shape
        out = np.zeros((h, n * (w + 1)), filters.dtype)
        for k in range(n):
            out[:, k * (w + 1):k * (w + 1) + w] = filters[k]
        return out

    plt.imshow(tile(solver.net.params["conv1"][0].diff[:, 0]), cmap="gray")
    plt.savefig("conv1_gradients.png")
    plt.close()

    losses = np.zeros(STEPS)
    accuracies = np.zeros(-(-STEPS // TEST_EVERY))
    kept = np.zeros((STEPS, KEPT, 10))
    for step in range(STEPS):
        solver.step(1)
        losses[step] = solver.net.blobs["loss"].data
        test_net.forward(start="conv1")
        kept[step] = test_net.blobs["score"].data[:KEPT]
        if step % TEST_EVERY == 0:
            right = 0
            for _ in range(TEST_BATCHES):
                test_net.forward()
                right += int((test_net.blobs["score"].data.argmax(1)
                              == test_net.blobs["label"].data).sum())
            accuracies[step // TEST_EVERY] = right / (TEST_BATCHES * 100.0)
            print(f"step {step}: loss {losses[step]:.4f}, test accuracy "
                  f"{accuracies[step // TEST_EVERY]:.3f}")

    fig, left = plt.subplots()
    left.plot(np.arange(STEPS), losses)
    right_axis = left.twinx()
    right_axis.plot(TEST_EVERY * np.arange(len(accuracies)), accuracies, "r")
    fig.savefig("loss_and_accuracy.png")
    plt.close(fig)
    for k in range(KEPT):
        fig = plt.figure(figsize=(2, 2))
        plt.imshow(test_net.blobs["data"].data[k, 0], cmap="gray")
        plt.savefig(f"test_{k}.png")
        plt.close(fig)
        fig = plt.figure(figsize=(10, 2))
        plt.imshow(kept[:50, k].T, interpolation="nearest", cmap="gray")
        plt.savefig(f"scores_{k}.png")
        plt.close(fig)
    print("final loss", float(losses[-1]), "accuracy", float(accuracies[-1]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
