"""A solver walkthrough in the style of a teaching notebook, run from an ``examples`` folder:
LeNet's training and test nets written with ``caffe.NetSpec`` into ``mnist/``, an
``SGDSolver`` made from ``mnist/lenet_auto_solver.prototxt`` (which names those two files),
a look at the nets' blobs and parameters, one ``step``, then a training loop of our own in
Python: ``step(1)`` 200 times, the first test batch scored after every step (a forward that
starts at ``conv1``, so the data layer reads nothing new), and a full test of 100 batches every
25 steps, scored with ``argmax`` against the labels. Plots go to PNG files.

Its state after the run (``solver``, ``losses``, ``accuracies``, ``first_batch_scores``,
``first_step_conv1_diff``) is what the harness compares.
"""
import matplotlib.pyplot as plt
import numpy as np

import caffe
from caffe import layers as L, params as P

caffe.set_mode_cpu()

XAVIER = dict(type="xavier")


def lenet_spec(lmdb_path, batch):
    """LeNet as Caffe's MNIST tutorial trains it: two 5x5 convolutions (20, 50 maps) each
    followed by 2x2 max pooling, a 500-unit ReLU layer, ten scores, softmax loss."""
    net = caffe.NetSpec()
    net.data, net.label = L.Data(source=lmdb_path, backend=P.Data.LMDB, batch_size=batch,
                                 ntop=2, transform_param=dict(scale=1.0 / 255))
    below = net.data
    for index, maps in ((1, 20), (2, 50)):
        conv = L.Convolution(below, num_output=maps, kernel_size=5, weight_filler=XAVIER)
        setattr(net, f"conv{index}", conv)
        below = L.Pooling(conv, pool=P.Pooling.MAX, kernel_size=2, stride=2)
        setattr(net, f"pool{index}", below)
    net.fc1 = L.InnerProduct(below, num_output=500, weight_filler=XAVIER)
    net.relu1 = L.ReLU(net.fc1, in_place=True)
    net.score = L.InnerProduct(net.relu1, num_output=10, weight_filler=XAVIER)
    net.loss = L.SoftmaxWithLoss(net.score, net.label)
    return net.to_proto()


NETS = (("mnist/lenet_auto_train.prototxt", "mnist/mnist_train_lmdb", 64),
        ("mnist/lenet_auto_test.prototxt", "mnist/mnist_test_lmdb", 100))
for net_file, source, batch in NETS:
    with open(net_file, "w") as out:
        out.write(str(lenet_spec(source, batch)))

solver = caffe.SGDSolver("mnist/lenet_auto_solver.prototxt")
train_net, test_net = solver.net, solver.test_nets[0]

for name, blob in train_net.blobs.items():
    print("blob", name, blob.data.shape)
for name, params in train_net.params.items():
    print("param", name, [p.data.shape for p in params])

train_net.forward()
test_net.forward()
print("first training labels:", train_net.blobs["label"].data[:8].astype(int).tolist())
print("first test labels:", test_net.blobs["label"].data[:8].astype(int).tolist())


def tile(images, rows):
    """A (rows*h, cols*w) mosaic of a stack of h x w images."""
    count, h, w = images.shape
    cols = count // rows
    grid = images[:rows * cols].reshape(rows, cols, h, w).swapaxes(1, 2)
    return grid.reshape(rows * h, cols * w)


plt.imsave("lenet_train_batch.png", tile(train_net.blobs["data"].data[:8, 0], 1), cmap="gray")

solver.step(1)
first_step_conv1_diff = train_net.params["conv1"][0].diff.copy()
plt.imsave("lenet_conv1_gradients.png", tile(first_step_conv1_diff[:, 0], 4), cmap="gray")

STEPS, TEST_EVERY, TEST_BATCHES = 200, 25, 100
losses = np.zeros(STEPS)
accuracies = np.zeros(-(-STEPS // TEST_EVERY))
first_batch_scores = np.zeros((STEPS, 8, 10))

for step in range(STEPS):
    solver.step(1)
    losses[step] = train_net.blobs["loss"].data
    test_net.forward(start="conv1")
    first_batch_scores[step] = test_net.blobs["score"].data[:8]
    if step % TEST_EVERY == 0:
        hits = 0
        for _ in range(TEST_BATCHES):
            test_net.forward()
            hits += int((test_net.blobs["score"].data.argmax(axis=1)
                         == test_net.blobs["label"].data).sum())
        accuracies[step // TEST_EVERY] = hits / (TEST_BATCHES * 100.0)
        print(f"step {step}: tested on {TEST_BATCHES} batches")

tested_at = np.arange(0, STEPS, TEST_EVERY)
figure, (top, bottom) = plt.subplots(2, 1, sharex=True)
top.plot(losses)
top.set_ylabel("training loss")
bottom.plot(tested_at, accuracies, marker="o")
bottom.set_ylabel("test accuracy")
bottom.set_xlabel("step")
figure.savefig("lenet_curves.png")

shown = first_batch_scores[:50]
probabilities = np.exp(shown) / np.exp(shown).sum(axis=2, keepdims=True)
figure, axes = plt.subplots(8, 2, figsize=(8, 12))
for i in range(8):
    axes[i, 0].imshow(shown[:, i].T, interpolation="nearest", cmap="gray")
    axes[i, 1].imshow(probabilities[:, i].T, interpolation="nearest", cmap="gray")
figure.savefig("lenet_scores.png")
plt.close("all")
print("done at iteration", solver.iter)
