"""A guard on the per-iteration overhead of a small net: Caffe's logistic regression example
(HDF5Data batch 10 -> InnerProduct -> SoftmaxWithLoss, SGD with momentum and weight decay)
through the solver, against a hand-written PyTorch loop of the same net in the same process.

Process CPU time, one torch thread, alternating blocks, the best block of each: load from other
processes changes both alike. benchmarks/bench_train.py --net logreg gives the figures.
"""
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

from caffe_compat import get_solver
from caffe_compat.net import train_plan

NET = """name: "LogisticRegressionNet"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
  hdf5_data_param { source: "%s" batch_size: 10 } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.01 }
    bias_filler { type: "constant" value: 0 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc1" bottom: "label" top: "loss" }
"""
SOLVER = """train_net: "%s"
base_lr: 0.01 lr_policy: "step" gamma: 0.1 stepsize: 5000 display: 0 max_iter: 100000
momentum: 0.9 weight_decay: 0.0005 snapshot: 0 snapshot_after_train: false
snapshot_prefix: "%s" solver_mode: CPU random_seed: 1
"""


def _cpu_per_iteration(fn, n):
    start = time.process_time()
    fn(n)
    return (time.process_time() - start) / n


def test_logistic_regression_iteration_is_near_a_hand_written_loop(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    with h5py.File(tmp_path / "train.h5", "w") as f:
        f["data"], f["label"] = x, y
    (tmp_path / "train.txt").write_text(str(tmp_path / "train.h5") + "\n")
    (tmp_path / "net.prototxt").write_text(NET % (tmp_path / "train.txt"))
    (tmp_path / "solver.prototxt").write_text(SOLVER % (tmp_path / "net.prototxt",
                                                        tmp_path / "snap"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        solver = get_solver(str(tmp_path / "solver.prototxt"))
        # the explicit forward-backward, no autograd (caffe_compat.net.train_plan)
        assert train_plan.plan_for(solver.net) is not None
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        xs, ys = torch.from_numpy(x), torch.from_numpy(y).long()

        def hand_written(n):
            for i in range(n):
                j = (10 * i) % 1990
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xs[j:j + 10]), ys[j:j + 10])
                loss.backward()
                opt.step()
                loss.item()
        ours, peer = [], []
        solver.step(50)
        hand_written(50)
        for _ in range(3):
            ours.append(_cpu_per_iteration(solver.step, 300))
            peer.append(_cpu_per_iteration(hand_written, 300))
    finally:
        torch.set_num_threads(threads)
    ratio = min(ours) / min(peer)
    # about 1.2 when measured (2 before the explicit pass); 6 is generous for a loaded 2-core machine (the same process and
    # load for both) and still fails if the per-layer Python work or the per-blob update loop
    # grows back to several times a whole hand-written iteration
    assert ratio <= 6.0, (ratio, ours, peer)
