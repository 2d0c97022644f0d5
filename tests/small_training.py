"""A small training folder shared by the solver-loop tests, the CLI tests, the sidecar fuzz and
the training fault injection.

The net exercises everything a resume must carry: two shuffled HDF5 files of unequal length
(batches straddle files and epochs), Dropout (a random stream), a test net with its own read
position, a multistep schedule and, with Adam, two history sets.
"""
import os

import h5py
import numpy as np

NET = """
name: "small"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "train.txt" batch_size: 6 shuffle: true }
        include { phase: TRAIN } }
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "test.txt" batch_size: 5 } include { phase: TEST } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" }
                            bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "drop" type: "Dropout" bottom: "conv" top: "conv"
        dropout_param { dropout_ratio: 0.3 } }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" }
"""

SOLVER = """
net: "net.prototxt"
type: "{type}"
test_iter: 2
test_interval: {test_interval}
base_lr: 0.01
lr_policy: "multistep"
gamma: 0.5
stepvalue: 4
stepvalue: 9
stepvalue: 15
momentum: 0.9
{extra}
weight_decay: 0.001
display: 1
max_iter: {max_iter}
snapshot: {snapshot}
snapshot_prefix: "snap/{prefix}"
random_seed: 11
solver_mode: CPU
"""


def make_small(folder, solver_type="Adam", extra="momentum2: 0.999", max_iter=20, snapshot=0,
               test_interval=5, prefix="small"):
    """Write the data, list files, net and solver into ``folder`` (snapshots go to
    ``snap/<prefix>_iter_N.*``); returns the folder."""
    folder = os.fspath(folder)
    os.makedirs(os.path.join(folder, "snap"), exist_ok=True)
    rng = np.random.default_rng(0)
    for name, rows in (("a", 13), ("b", 20), ("t", 10)):
        with h5py.File(os.path.join(folder, f"{name}.h5"), "w") as f:
            f["data"] = rng.random((rows, 1, 6, 6), dtype=np.float32)
            f["label"] = rng.random((rows, 3), dtype=np.float32)
    with open(os.path.join(folder, "train.txt"), "w") as f:
        f.write("a.h5\nb.h5\n")
    with open(os.path.join(folder, "test.txt"), "w") as f:
        f.write("t.h5\n")
    with open(os.path.join(folder, "net.prototxt"), "w") as f:
        f.write(NET)
    with open(os.path.join(folder, "solver.prototxt"), "w") as f:
        f.write(SOLVER.format(type=solver_type, extra=extra, max_iter=max_iter,
                              snapshot=snapshot, test_interval=test_interval, prefix=prefix))
    return folder
