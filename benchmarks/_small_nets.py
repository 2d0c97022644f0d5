"""The small-net cases of ``bench_train.py --net logreg|lenet``: per-iteration overhead.

- ``logreg``: Caffe's brewing-logreg example (examples/hdf5_classification: HDF5Data batch 10
  of 4 features -> InnerProduct 2 -> SoftmaxWithLoss; SGD lr 0.01, momentum 0.9, weight decay
  5e-4, ``step`` policy), 7,500 rows of synthetic two-class data.
- ``lenet``: Caffe's lenet_train_test (Data layer reading an LMDB of 28 x 28 Datums, batch 64,
  scale 1/256, conv 20 / pool / conv 50 / pool / ip 500 / ReLU / ip 10 / SoftmaxWithLoss;
  lenet_solver's SGD, ``inv`` policy), 640 random images.

Each is timed through ``caffe_compat.get_solver(...).step(n)``, through pycaffe's
``caffe.get_solver(...).step(n)`` and as a hand-written PyTorch loop of the same net
(``torch.optim.SGD`` on batches already in memory), in alternating rounds; the medians and
the ratios to the hand-written loop are printed.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BVLC's LeNet definition, a public file kept outside the repository: ../shared/public-nets
# (or $RLQ_SHARED/public-nets)
SHARED = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
LENET = os.path.join(SHARED, "public-nets", "bvlc_nets", "mnist__lenet_train_test.prototxt")

LOGREG_NET = """name: "LogisticRegressionNet"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
  hdf5_data_param { source: "%(list)s" batch_size: %(batch)d } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.01 }
    bias_filler { type: "constant" value: 0 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc1" bottom: "label" top: "loss" }
"""

SOLVERS = {
    "logreg": """train_net: "%(net)s"
base_lr: 0.01 lr_policy: "step" gamma: 0.1 stepsize: 5000 display: 1000 max_iter: 1000000
momentum: 0.9 weight_decay: 0.0005 snapshot: 0 snapshot_after_train: false
snapshot_prefix: "%(folder)s/snap" solver_mode: CPU random_seed: 1
""",
    "lenet": """train_net: "%(net)s"
base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 lr_policy: "inv" gamma: 0.0001 power: 0.75
display: 100 max_iter: 1000000 snapshot: 0 snapshot_after_train: false
snapshot_prefix: "%(folder)s/snap" solver_mode: CPU random_seed: 1
"""}


def _logreg_files(folder, batch):
    import h5py
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7500, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    with h5py.File(os.path.join(folder, "train.h5"), "w") as f:
        f["data"] = x
        f["label"] = y
    with open(os.path.join(folder, "train.txt"), "w") as f:
        f.write(os.path.join(folder, "train.h5") + "\n")
    net = os.path.join(folder, "logreg.prototxt")
    with open(net, "w") as f:
        f.write(LOGREG_NET % {"list": os.path.join(folder, "train.txt"), "batch": batch})
    return net, torch.from_numpy(x), torch.from_numpy(y).long()


def _lenet_files(folder, batch, copy=""):
    from caffe_compat.data.db import create_db
    from caffe_compat.io.prototxt import read_net, write_prototxt
    from caffe_compat.proto import caffe_pb2
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (640, 1, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 640)
    db_path = os.path.join(folder, f"train{copy}_lmdb")
    with create_db(db_path, "lmdb") as writer:
        for i, (img, lab) in enumerate(zip(images, labels)):
            d = caffe_pb2.Datum(channels=1, height=28, width=28, data=img.tobytes(),
                                label=int(lab))
            writer.put(f"{i:08d}".encode(), d.SerializeToString())
        writer.commit()
    net = read_net(LENET)
    keep = [lp for lp in net.layer if not any(r.phase == caffe_pb2.TEST for r in lp.include)
            and lp.type != "Accuracy"]
    del net.layer[:]
    net.layer.extend(keep)
    for lp in net.layer:
        if lp.type == "Data":
            lp.data_param.source = db_path
            lp.data_param.batch_size = batch
            lp.ClearField("include")
    path = os.path.join(folder, f"lenet{copy}.prototxt")
    write_prototxt(net, path)
    x = torch.from_numpy(images.astype(np.float32) * np.float32(0.00390625))
    return path, x, torch.from_numpy(labels).long()


class _LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.ip1 = nn.Linear(800, 500)
        self.ip2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2, 2)
        x = F.max_pool2d(self.conv2(x), 2, 2)
        return self.ip2(F.relu(self.ip1(x.flatten(1))))


def _hand_written(name, x, y, batch):
    torch.manual_seed(1)
    model = nn.Linear(4, 2) if name == "logreg" else _LeNet()
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    decay = 0.0 if name == "logreg" else 0.0005     # logreg: decay_mult 0 on the bias
    opt = torch.optim.SGD([{"params": weights, "weight_decay": 0.0005},
                           {"params": biases, "lr": 0.02, "weight_decay": decay}],
                          lr=0.01, momentum=0.9)
    rows = x.shape[0]
    position = [0]

    def step():
        start = position[0]
        position[0] = (start + batch) % (rows - batch)
        xb, yb = x[start:start + batch], y[start:start + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def cases(name, folder, batch):
    """{label: fn(n) running n iterations} for the small net ``name``."""
    import caffe
    from caffe_compat import get_solver
    solvers = []
    for copy in ("", "_pycaffe"):   # one LMDB per solver: an environment opens once a process
        if name == "logreg":
            net, x, y = _logreg_files(folder, batch)
        else:
            net, x, y = _lenet_files(folder, batch, copy)
        solvers.append(os.path.join(folder, f"solver{copy}.prototxt"))
        with open(solvers[-1], "w") as f:
            f.write(SOLVERS[name] % {"net": net, "folder": folder})
    ours = get_solver(solvers[0])
    pycaffe = caffe.get_solver(solvers[1])
    step = _hand_written(name, x, y, batch)
    return {"caffe_compat solver": ours.step,
            "pycaffe solver.step": pycaffe.step,
            "hand-written torch": (lambda n: [step() for _ in range(n)])}
