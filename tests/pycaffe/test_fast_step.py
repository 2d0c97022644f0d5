"""pycaffe's straight-line training passes (caffe_compat/net/fast_step.py) against Stepwise's
general loop: every blob's data and diff and every parameter's data and diff, at every point a
program can look (after each forward, each backward, each solver iteration and test pass),
bit for bit (tolerance 0: the same layer calls on the same tensors in the same order)."""
import h5py
import numpy as np
import pytest

import caffe
from caffe_compat.net import fast_step


@pytest.fixture(autouse=True)
def _torch_engine_solver(monkeypatch):
    """These tests look into the torch engine's training passes: pycaffe's solvers run there
    (the array engine's solver is tested in tests/caffe_compat/array_solver)."""
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")

LOGREG = """name: "logreg"
layer {{ name: "data" type: "HDF5Data" top: "data" top: "label"
  hdf5_data_param {{ source: "{source}" batch_size: 10 }} }}
layer {{ name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param {{ num_output: {hidden} weight_filler {{ type: "xavier" }} }} }}
{middle}
layer {{ name: "accuracy" type: "Accuracy" bottom: "{score}" bottom: "label" top: "accuracy" }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "{score}" bottom: "label" top: "loss" }}
"""
NONLINEAR = """layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }"""
SOLVER = """train_net: "{net}" test_net: "{net}" test_iter: 5 test_interval: 7
base_lr: 0.01 lr_policy: "step" gamma: 0.1 stepsize: 10 momentum: 0.9 weight_decay: 5e-4
display: 0 max_iter: 20 random_seed: 1701 snapshot_after_train: false
"""


@pytest.fixture(params=["logreg", "nonlinear"])
def solver_file(request, tmp_path):
    rng = np.random.RandomState(0)
    with h5py.File(tmp_path / "train.h5", "w") as f:
        f["data"] = rng.randn(200, 4).astype(np.float32)
        f["label"] = rng.randint(0, 2, 200).astype(np.float32)
    (tmp_path / "train.txt").write_text(str(tmp_path / "train.h5") + "\n")
    if request.param == "logreg":
        net = LOGREG.format(source=tmp_path / "train.txt", hidden=2, middle="", score="ip1")
    else:
        net = LOGREG.format(source=tmp_path / "train.txt", hidden=40, middle=NONLINEAR,
                            score="ip2")
    (tmp_path / "net.prototxt").write_text(net)
    (tmp_path / "solver.prototxt").write_text(SOLVER.format(net=tmp_path / "net.prototxt"))
    return str(tmp_path / "solver.prototxt")


@pytest.fixture
def general_loop(monkeypatch):
    def use(flag):
        monkeypatch.setattr(fast_step, "ENABLED", not flag)
    return use


def _state(net):
    out = {}
    for name, blob in net.blobs.items():
        out[f"data:{name}"] = blob.data.copy()
        out[f"diff:{name}"] = blob.diff.copy()
    for name, blobs in net.params.items():
        for i, b in enumerate(blobs):
            out[f"param:{name}:{i}"] = b.data.copy()
            out[f"pdiff:{name}:{i}"] = b.diff.copy()
    return out


def _same(a, b, where):
    assert a.keys() == b.keys()
    for key in a:
        # tolerance 0: the same calls on the same tensors give the same bits
        assert a[key].tobytes() == b[key].tobytes(), f"{where}: {key}"


def _solver(path, general_loop, general):
    general_loop(general)
    caffe.set_random_seed(1701)
    return caffe.get_solver(path)


def test_solver_iterations_bit_for_bit(solver_file, general_loop):
    fast = _solver(solver_file, general_loop, False)
    slow = _solver(solver_file, general_loop, True)
    views = [fast.net.blobs["ip1"].data, fast.net.params["ip1"][0].diff]   # taken early
    for it in range(15):
        for solver, general in ((fast, False), (slow, True)):
            general_loop(general)
            solver.step(1)
        _same(_state(fast.net), _state(slow.net), f"train net after iteration {it + 1}")
        _same(_state(fast.test_nets[0]), _state(slow.test_nets[0]), f"test net, {it + 1}")
        # arrays taken before the iterations still show the net's values (live views)
        assert np.array_equal(views[0], fast.net.blobs["ip1"].data)
        assert np.array_equal(views[1], fast.net.params["ip1"][0].diff)
    general_loop(False)
    fast.solve()
    general_loop(True)
    slow.solve()
    _same(_state(fast.net), _state(slow.net), "after solve()")


def test_forward_backward_from_python(solver_file, general_loop):
    """net.forward() / net.backward() called by a program, a partial backward, and values
    written into the blobs between the passes."""
    fast = _solver(solver_file, general_loop, False)
    slow = _solver(solver_file, general_loop, True)
    for solver, general in ((fast, False), (slow, True)):
        general_loop(general)
        net = solver.net
        net.forward()
        net.blobs["loss"].diff[...] = 2.0             # a loss weight written by the program
        net.backward()
    _same(_state(fast.net), _state(slow.net), "forward, backward")
    for solver, general in ((fast, False), (slow, True)):
        general_loop(general)
        net = solver.net
        net.forward()
        net.blobs["ip1"].data[...] *= 0.5             # seen by nothing: the saved state rules
        net.backward(start="loss")
        net.backward(start="ip1")                     # a partial backward after the plan's
    _same(_state(fast.net), _state(slow.net), "partial backward")


def test_plan_applies(solver_file):
    solver = caffe.get_solver(solver_file)
    assert fast_step.plan_for(solver.net._store) is not None
