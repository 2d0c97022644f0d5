"""A solver configured from Python, in the style of a teaching notebook's "write your own
solver" section, run from an ``examples`` folder: a linear classifier over the MNIST LMDBs
(one InnerProduct to ten scores, softmax loss) written with ``caffe.NetSpec``, a seeded
``caffe_pb2.SolverParameter`` filled field by field (SGD with momentum, weight decay and the
``inv`` learning-rate policy) and written as text, ``caffe.get_solver`` on that file, then a
loop of our own: ``step(1)`` 250 times, a full test of 100 batches every 25 steps.

Its state after the run (``solver``, ``losses``, ``accuracies``) is what the harness compares.
"""
import matplotlib.pyplot as plt
import numpy as np

import caffe
from caffe import layers as L, params as P
from caffe.proto import caffe_pb2

caffe.set_mode_cpu()

TRAIN_DEF = "mnist/linear_train.prototxt"
TEST_DEF = "mnist/linear_test.prototxt"
SOLVER_DEF = "mnist/linear_solver.prototxt"


def linear_classifier(lmdb_path, batch):
    spec = caffe.NetSpec()
    spec.data, spec.label = L.Data(source=lmdb_path, backend=P.Data.LMDB, batch_size=batch,
                                   ntop=2, transform_param=dict(scale=1.0 / 255))
    spec.score = L.InnerProduct(spec.data, num_output=10, weight_filler=dict(type="xavier"))
    spec.loss = L.SoftmaxWithLoss(spec.score, spec.label)
    return spec.to_proto()


with open(TRAIN_DEF, "w") as out:
    out.write(str(linear_classifier("mnist/mnist_train_lmdb", 64)))
with open(TEST_DEF, "w") as out:
    out.write(str(linear_classifier("mnist/mnist_test_lmdb", 100)))

settings = caffe_pb2.SolverParameter(train_net=TRAIN_DEF, test_net=[TEST_DEF], test_iter=[100])
SOLVER_FIELDS = (
    ("random_seed", 4242),         # fixes the xavier draws
    ("type", "SGD"), ("base_lr", 0.01), ("momentum", 0.9), ("weight_decay", 5e-4),
    ("lr_policy", "inv"), ("gamma", 1e-4), ("power", 0.75),     # lr = base (1 + gamma it)^-power
    ("max_iter", 10000),
    ("test_interval", 500),        # the loop below tests; Caffe's own test passes stay off
    ("display", 1000), ("snapshot", 5000), ("snapshot_prefix", "mnist/linear"),
    ("solver_mode", caffe_pb2.SolverParameter.CPU),
)
for field_name, value in SOLVER_FIELDS:
    setattr(settings, field_name, value)
with open(SOLVER_DEF, "w") as out:
    out.write(str(settings))

solver = caffe.get_solver(SOLVER_DEF)
print("solver of type", type(solver).__name__, "at iteration", solver.iter)

STEPS = 250
TEST_EVERY = STEPS // 10
losses = np.zeros(STEPS)
accuracies = np.zeros(STEPS // TEST_EVERY)
scorer = solver.test_nets[0]
for step in range(STEPS):
    solver.step(1)
    losses[step] = solver.net.blobs["loss"].data
    if step % TEST_EVERY:
        continue
    right = 0
    for _ in range(100):
        scorer.forward()
        right += int(np.sum(scorer.blobs["score"].data.argmax(1) == scorer.blobs["label"].data))
    accuracies[step // TEST_EVERY] = right / 1e4
    print(f"step {step}: full test done")

figure, (top, bottom) = plt.subplots(2, 1, sharex=True)
top.plot(losses)
bottom.step(np.arange(0, STEPS, TEST_EVERY), accuracies, where="post")
bottom.set_title(f"linear classifier, last test accuracy {accuracies[-1]:.2f}")
figure.savefig("linear_curves.png")
plt.close("all")
