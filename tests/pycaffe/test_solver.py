"""caffe.SGDSolver and friends: every behaviour of pycaffe's test_solver.py, callbacks,
restore, the solver types, and a training loop fed through the input blobs."""
import os

import numpy as np
import pytest

import caffe
import caffe_compat.errors

from .test_net import SIMPLE

# pycaffe's test solver, with 20 iterations (pycaffe's has 100) and 2 test batches
SOLVER = """net: '{net}'
test_iter: 2 test_interval: 10 base_lr: 0.01 momentum: 0.9
weight_decay: 0.0005 lr_policy: 'inv' gamma: 0.0001 power: 0.75
display: 100 max_iter: 20 snapshot_after_train: false
snapshot_prefix: "model" {extra}"""


@pytest.fixture
def solver_file(net_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # snapshots are written relative to the working dir

    def write(extra="", net=SIMPLE):
        return net_file(SOLVER.format(net=net_file(net), extra=extra), name="solver.prototxt")
    return write


@pytest.fixture
def solver(solver_file):
    s = caffe.SGDSolver(solver_file())
    caffe.get_solver(solver_file())            # get_solver runs too
    caffe.set_mode_cpu()
    rng = np.random.RandomState(0)
    for net in [s.net] + s.test_nets:
        net.blobs["label"].data[...] = rng.randint(13, size=net.blobs["label"].data.shape)
    return s


def test_solve(solver):
    assert solver.iter == 0
    solver.solve()
    assert solver.iter == 20


@pytest.mark.parametrize("array_net", ["1", "0"])
def test_the_log_is_pycaffes(solver_file, monkeypatch, capfd, array_net):
    """A pycaffe solver logs the solver's set-up as real pycaffe does, and not the
    "Use CPU." line of the caffe train tool (real pycaffe prints none)."""
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", array_net)
    caffe.SGDSolver(solver_file())
    err = capfd.readouterr().err
    assert "Initializing solver from parameters" in err and "Use CPU." not in err


def test_apply_update(solver):
    net = solver.net
    data = net.layers[1].blobs[0].data[...]
    data[...] = 0
    net.layers[1].blobs[0].diff[...] = 1
    solver.apply_update()                      # the first rate is base_lr = 0.01
    assert (data - -0.01 * np.ones(data.shape)).max() < 1e-7
    # Caffe 1.0's ApplyUpdate counts the update (++iter_): the schedule moves on
    assert solver.iter == 1
    solver.apply_update()
    assert solver.iter == 2


def test_apply_update_counts_on_the_array_engine(net_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = caffe.SGDSolver(net_file(f"net: '{net_file(FED)}' base_lr: 0.1 lr_policy: 'step' "
                                 "gamma: 0.5 stepsize: 1 max_iter: 10 display: 0 "
                                 "snapshot_prefix: 'fed'", name="fed_solver.txt"))
    w = s.net.params["fc"][0]
    rates = []
    for _ in range(3):
        w.data[...] = 0
        w.diff[...] = 1
        s.apply_update()
        rates.append(float(-w.data[0, 0]))
    assert s.iter == 3
    np.testing.assert_allclose(rates, [0.1, 0.05, 0.025], rtol=1e-6)   # the step policy


def test_nets_outlive_the_solver(solver):
    nets = [solver.net] + list(solver.test_nets)
    assert len(nets) == 2
    del solver
    total = 0.0
    for net in nets:
        for ps in net.params.values():
            for p in ps:
                total += p.data.sum() + p.diff.sum()
        for blob in net.blobs.values():
            total += blob.data.sum() + blob.diff.sum()
    assert np.isfinite(total)


def test_snapshot(solver):
    solver.snapshot()
    for name in ("model_iter_0.caffemodel", "model_iter_0.solverstate"):
        assert os.path.isfile(name)


def test_test_nets_share_the_weights(solver):
    solver.step(2)
    for a, b in zip(solver.net.params["ip"], solver.test_nets[0].params["ip"]):
        np.testing.assert_array_equal(a.data, b.data)


def test_restore_continues_where_the_snapshot_was(solver_file):
    first = caffe.SGDSolver(solver_file())
    first.step(3)
    first.snapshot()
    first.step(2)
    again = caffe.SGDSolver(solver_file())
    again.restore("model_iter_3.solverstate")
    assert again.iter == 3
    again.step(2)
    assert again.iter == first.iter == 5


def test_callbacks_run_in_order(solver):
    calls = []
    solver.add_callback(lambda: calls.append("start"), lambda: calls.append("ready"))
    solver.step(2)
    assert calls == ["start", "ready", "start", "ready"]


_TYPE_SETTINGS = {"SGD": "momentum: 0.9", "Nesterov": "momentum: 0.9", "AdaGrad": "delta: 1e-6",
                  "RMSProp": "rms_decay: 0.98", "AdaDelta": "momentum: 0.95 delta: 1e-6",
                  "Adam": "momentum: 0.9 momentum2: 0.999 delta: 1e-8"}


@pytest.mark.parametrize("cls,type_name", [
    ("SGDSolver", "SGD"), ("NesterovSolver", "Nesterov"), ("AdaGradSolver", "AdaGrad"),
    ("RMSPropSolver", "RMSProp"), ("AdaDeltaSolver", "AdaDelta"), ("AdamSolver", "Adam")])
def test_solver_types(net_file, tmp_path, monkeypatch, cls, type_name):
    monkeypatch.chdir(tmp_path)
    base = (f"net: '{net_file(SIMPLE)}' base_lr: 0.01 lr_policy: 'fixed' max_iter: 10 "
            f"display: 0 snapshot_prefix: 'm' {_TYPE_SETTINGS[type_name]}")
    s = getattr(caffe, cls)(net_file(base, name="plain.prototxt"))
    assert s._solver.type_name == type_name
    s.step(1)
    assert s.iter == 1
    typed = caffe.get_solver(net_file(base + f' type: "{type_name}"', name="typed.prototxt"))
    assert typed._solver.type_name == type_name
    assert type(typed).__name__ == cls        # Caffe's get_solver gives the derived class


# ---- a training loop fed through the input blobs, as many pycaffe scripts do
FED = """name: 'fed'
layer { type: 'Input' name: 'input' top: 'x' top: 'y'
  input_param { shape { dim: 8 dim: 3 } shape { dim: 8 dim: 1 } } }
layer { type: 'InnerProduct' name: 'fc' bottom: 'x' top: 'fc'
  inner_product_param { num_output: 1 weight_filler { type: 'constant' value: 0 } } }
layer { type: 'EuclideanLoss' name: 'loss' bottom: 'fc' bottom: 'y' top: 'loss' }
"""


def test_training_loop_fed_through_blobs(net_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = net_file(f"net: '{net_file(FED)}' base_lr: 0.1 lr_policy: 'fixed' "
                    "max_iter: 1000 display: 0 snapshot_prefix: 'fed'", name="fed_solver.txt")
    s = caffe.SGDSolver(path)
    rng = np.random.RandomState(0)
    true_w = np.array([[0.5, -1.0, 2.0]], np.float32)
    x_blob, y_blob = s.net.blobs["x"].data, s.net.blobs["y"].data
    for _ in range(150):
        x = rng.randn(8, 3).astype(np.float32)
        x_blob[...] = x
        y_blob[...] = x @ true_w.T
        s.step(1)
    np.testing.assert_allclose(s.net.params["fc"][0].data, true_w, atol=1e-3)


def test_net_hooks_fire_in_iterations(solver):
    # the hooks of solver.net run in every iteration's forward and backward, as Caffe's
    # Solver::Step calls ForwardBackward (this solver's nets are on torch: a Python layer)
    calls = []
    solver.net.after_forward(lambda i: calls.append(("f", i)))
    solver.net.after_backward(lambda i: calls.append(("b", i)))
    solver.step(2)
    one = [("f", i) for i in range(4)] + [("b", i) for i in (3, 2, 1, 0)]
    assert calls == one * 2


def test_net_hooks_need_the_torch_engine(net_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = caffe.SGDSolver(net_file(f"net: '{net_file(FED)}' base_lr: 0.1 lr_policy: 'fixed' "
                                 "max_iter: 10 display: 0 snapshot_prefix: 'fed'",
                                 name="fed_solver.txt"))
    if s.net.engine != "array":
        pytest.skip("the solver runs on torch here")
    with pytest.raises(caffe_compat.errors.NetError, match="CAFFE_COMPAT_ARRAY_NET=0"):
        s.net.before_forward(print)
