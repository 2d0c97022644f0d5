"""A LeNet trained by caffe_compat's solver on scikit-learn's digits, for the int8 accuracy
measurement (tests/caffe_compat/dnn/test_precision_trained.py, and OpenCV 4's int8 beside it:
fixtures/make_trained_int8_fixtures.py).

The data: ``sklearn.datasets.load_digits`` (1,797 grey 8 x 8 digits, values 0-16), each
brought to 28 x 28 with OpenCV's INTER_LINEAR and scaled to [0, 1], as MNIST's pixels times
Caffe's ``scale: 0.00390625``; the first 1,200 train, the other 597 test (the calibration
set is the first 64 training digits). The net: Caffe's examples/mnist/lenet_train_test.prototxt
(conv 20 5x5, max pool, conv 50 5x5, max pool, ip 500, ReLU, ip 10) with HDF5Data in place of
the LMDB Data layers; the solver: Caffe's lenet_solver.prototxt (SGD, lr 0.01, momentum 0.9,
weight decay 5e-4, ``inv`` policy) for 150 iterations of 64 digits, seeded (about 9 s on
2 cores).
"""
import os

import numpy as np

TRAIN = 1200
ITERATIONS = 150

_DATA = """  hdf5_data_param {{ source: "{source}" batch_size: {batch} {shuffle}}}"""

NET = """name: "LeNet"
layer {{ name: "mnist" type: "HDF5Data" top: "data" top: "label" include {{ phase: TRAIN }}
{train} }}
layer {{ name: "mnist" type: "HDF5Data" top: "data" top: "label" include {{ phase: TEST }}
{test} }}
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  param {{ lr_mult: 1 }} param {{ lr_mult: 2 }}
  convolution_param {{ num_output: 20 kernel_size: 5 stride: 1
    weight_filler {{ type: "xavier" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
layer {{ name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
  param {{ lr_mult: 1 }} param {{ lr_mult: 2 }}
  convolution_param {{ num_output: 50 kernel_size: 5 stride: 1
    weight_filler {{ type: "xavier" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
layer {{ name: "ip1" type: "InnerProduct" bottom: "pool2" top: "ip1"
  param {{ lr_mult: 1 }} param {{ lr_mult: 2 }}
  inner_product_param {{ num_output: 500
    weight_filler {{ type: "xavier" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }}
layer {{ name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  param {{ lr_mult: 1 }} param {{ lr_mult: 2 }}
  inner_product_param {{ num_output: 10
    weight_filler {{ type: "xavier" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy"
  include {{ phase: TEST }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }}
"""

SOLVER = """net: "lenet_train_test.prototxt"
test_iter: 1
test_interval: 100000
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
display: 0
max_iter: {iterations}
snapshot: 0
snapshot_prefix: "lenet"
random_seed: 7
solver_mode: CPU
"""


def digits():
    """(N x 1 x 28 x 28 float32 images in [0, 1], N labels) of scikit-learn's digits."""
    import cv2
    from sklearn.datasets import load_digits
    d = load_digits()
    x = np.stack([cv2.resize((img / 16.0).astype(np.float32), (28, 28),
                             interpolation=cv2.INTER_LINEAR) for img in d.images])
    return np.ascontiguousarray(x[:, None], np.float32), d.target.astype(np.int64)


def write_data(folder):
    """The HDF5 files and list files of the split (module doc) in ``folder``."""
    import h5py
    x, y = digits()
    for name, sl in (("train", slice(0, TRAIN)), ("test", slice(TRAIN, None))):
        with h5py.File(os.path.join(folder, f"{name}.h5"), "w") as f:
            f["data"] = x[sl]
            f["label"] = y[sl].astype(np.float32)
        with open(os.path.join(folder, f"{name}.txt"), "w") as f:
            f.write(f"{name}.h5\n")
    return x, y


def train(folder, iterations=ITERATIONS):
    """Train the LeNet in ``folder`` (data written there); returns (the trained
    caffe_compat.Net of the TEST phase, test images, test labels, calibration images)."""
    from caffe_compat import get_solver
    x, y = write_data(folder)
    with open(os.path.join(folder, "lenet_train_test.prototxt"), "w") as f:
        f.write(NET.format(train=_DATA.format(source="train.txt", batch=64,
                                              shuffle="shuffle: true "),
                           test=_DATA.format(source="test.txt", batch=len(x) - TRAIN,
                                             shuffle="")))
    with open(os.path.join(folder, "solver.prototxt"), "w") as f:
        f.write(SOLVER.format(iterations=iterations))
    here = os.getcwd()
    os.chdir(folder)
    try:
        solver = get_solver("solver.prototxt")
        solver.solve()
        net = solver.test_nets[0] if getattr(solver, "test_nets", None) else solver.net
    finally:
        os.chdir(here)
    return net, x[TRAIN:], y[TRAIN:], x[:64]
