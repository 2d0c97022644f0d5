"""pycaffe's solve() / step() on small nets through the compiled loop
(caffe_compat/solvers/tiny_solve.py) against the per-layer loop (tiny_solve.ENABLED = False):
every blob's data and diff of the training and test nets, every parameter's data and diff,
the history, the iteration counter, the smoothed and last loss, the test scores, the HDF5
cursors and the log (timings masked), bit for bit. Tolerance 0 throughout: the loop calls the
same routines in the same order, so any difference is a bug."""
import io
import re

import h5py
import numpy as np
import pytest

import caffe
from caffe_compat.kernels import tiny_solve as kernel
from caffe_compat.solvers import tiny_solve
from caffe_compat.diagnostics.glog import SolverLog


@pytest.fixture(autouse=True)
def _torch_engine_solver(monkeypatch):
    """These tests look into the torch engine's training passes: pycaffe's solvers run there
    (the array engine's solver is tested in tests/caffe_compat/array_solver)."""
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")

pytestmark = pytest.mark.skipif(
    not kernel.available(),
    reason="the compiled loop does not run on this machine: it needs its extension built and "
           "torch's AVX2 kernels (torch.backends.cpu.get_cpu_capability() here: "
           f"{getattr(kernel.torch.backends.cpu, 'get_cpu_capability', lambda: None)()!r}; "
           "AVX-512 machines train these nets on the per-layer loop, docs/benchmarks.md)")

HDF5 = """layer {{ name: "data" type: "HDF5Data" top: "data" top: "label"
  hdf5_data_param {{ source: "{source}" batch_size: 10 }} }}
"""
INPUT = """layer {{ name: "data" type: "Input" top: "data" top: "label"
  input_param {{ shape {{ dim: 10 dim: 4 }} shape {{ dim: 10 }} }} }}
"""
LOGREG = """layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip1" bottom: "label" top: "accuracy" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip1" bottom: "label" top: "loss" }
"""
NONLINEAR = """layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 40 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" }
    bias_filler { type: "constant" value: 0.1 } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""
SIGTANH = """layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 40 weight_filler { type: "xavier" } } }
layer { name: "sig" type: "Sigmoid" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 20 weight_filler { type: "xavier" } } }
layer { name: "tanh" type: "TanH" bottom: "ip2" top: "tanh" }
layer { name: "ip3" type: "InnerProduct" bottom: "tanh" top: "ip3"
  inner_product_param { num_output: 1 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip3" bottom: "label" top: "loss" }
"""
SOLVER = """train_net: "{net}" test_net: "{test}" test_iter: 25 test_interval: 40
base_lr: 0.05 lr_policy: "step" gamma: 0.5 stepsize: 70 momentum: 0.9 weight_decay: 5e-4
display: 30 average_loss: 7 max_iter: 150 random_seed: 1701 snapshot_after_train: false
"""


def _write(tmp_path, body, data=HDF5):
    rng = np.random.RandomState(0)
    for name, rows in (("train", 230), ("test", 120)):
        with h5py.File(tmp_path / f"{name}.h5", "w") as f:
            f["data"] = (rng.randn(rows, 4) * 2).astype(np.float32)
            f["label"] = rng.randint(0, 3 if "num_output: 3" in body else 2,
                                     rows).astype(np.float32)
    # the training list names its file twice, as the notebook's does: a file switch
    (tmp_path / "train.txt").write_text(f"{tmp_path / 'train.h5'}\n" * 2)
    (tmp_path / "test.txt").write_text(f"{tmp_path / 'test.h5'}\n")
    for name in ("train", "test"):
        (tmp_path / f"{name}.prototxt").write_text(
            data.format(source=tmp_path / f"{name}.txt") + body)
    path = tmp_path / "solver.prototxt"
    path.write_text(SOLVER.format(net=tmp_path / "train.prototxt",
                                  test=tmp_path / "test.prototxt"))
    return str(path)


def _state(solver):
    out = {}
    for label, net in [("train", solver.net)] + [(f"test{i}", n)
                                                  for i, n in enumerate(solver.test_nets)]:
        for name, blob in net.blobs.items():
            out[f"{label}:data:{name}"] = blob.data.copy()
            out[f"{label}:diff:{name}"] = blob.diff.copy()
        for name, blobs in net.params.items():
            for i, b in enumerate(blobs):
                out[f"{label}:param:{name}:{i}"] = b.data.copy()
                out[f"{label}:pdiff:{name}:{i}"] = b.diff.copy()
    engine = solver._solver
    for i, h in enumerate(engine.history):
        out[f"history:{i}"] = h.numpy().copy()
    out["iter"] = np.asarray(solver.iter)
    out["smoothed"] = np.asarray(engine.smoothed_loss, np.float32)
    out["last"] = np.asarray(engine.last_loss, np.float32)
    out["current_step"] = np.asarray(engine.current_step)
    for i, scores in enumerate(engine.test_scores):
        out[f"scores:{i}"] = np.asarray([v for _, v in scores], np.float32)
    for label, net in [("train", engine.net)] + [(f"test{i}", n)
                                                  for i, n in enumerate(engine.test_nets)]:
        for name, layer in net.layers.items():
            src = getattr(layer, "source", None)
            if src is not None:
                out[f"cursor:{label}:{name}"] = np.asarray([src.current_file, src.current_row])
    return out


def _log_text(stream):
    # the clock is the only thing that may differ: glog's time and thread id, and the
    # display's "(123.4 iter/s, 0.1s/30 iters)"
    text = re.sub(r"^([IWEF])\d{4} [\d:.]+ +\d+ ", r"\1 ", stream.getvalue(), flags=re.M)
    return re.sub(r"\([^)]*iter/s[^)]*\)", "(T)", text)


def _run(solver_file, enabled, monkeypatch, action, calls=None):
    monkeypatch.setattr(tiny_solve, "ENABLED", enabled)
    caffe.set_mode_cpu()
    solver = caffe.get_solver(solver_file)
    stream = io.StringIO()
    solver._solver.log = SolverLog(stream)
    if calls is not None:
        real = kernel.run

        def counted(*args):
            done = real(*args)
            calls.append(done)
            return done
        monkeypatch.setattr(kernel, "run", counted)
    action(solver)
    monkeypatch.setattr(kernel, "run", kernel.run if calls is None else real)
    return _state(solver), _log_text(stream)


def _compare(solver_file, monkeypatch, action):
    calls = []
    fast, fast_log = _run(solver_file, True, monkeypatch, action, calls)
    slow, slow_log = _run(solver_file, False, monkeypatch, action)
    assert fast.keys() == slow.keys()
    for key in slow:
        assert fast[key].tobytes() == slow[key].tobytes(), key
    assert fast_log == slow_log
    return calls


@pytest.mark.parametrize("body", [LOGREG, NONLINEAR, SIGTANH],
                         ids=["logreg", "relu40", "sigmoid_tanh_euclidean"])
def test_solve_bit_identical(tmp_path, monkeypatch, body):
    calls = _compare(_write(tmp_path, body), monkeypatch, lambda s: s.solve())
    # most iterations and test passes went through the compiled loop
    assert sum(calls) > 100 + 3 * 20


def test_step_in_pieces_and_in_one_call(tmp_path, monkeypatch):
    solver_file = _write(tmp_path, NONLINEAR)

    def pieces(s):
        for n in (1, 13, 2, 50, 37):
            s.step(n)

    a, _ = _run(solver_file, True, monkeypatch, pieces)
    b, _ = _run(solver_file, True, monkeypatch, lambda s: s.step(103))
    c, _ = _run(solver_file, False, monkeypatch, pieces)
    # pieces vs one call differ in the smoothed loss only (step() starts it again)
    for key in a:
        if key not in ("smoothed", "last"):
            assert a[key].tobytes() == b[key].tobytes(), key
        assert a[key].tobytes() == c[key].tobytes(), key


def test_input_blobs_set_from_python(tmp_path, monkeypatch):
    solver_file = _write(tmp_path, LOGREG, data=INPUT)
    rng = np.random.RandomState(3)
    batches = [(rng.randn(10, 4).astype(np.float32),
                rng.randint(0, 2, 10).astype(np.float32)) for _ in range(4)]

    def feed(s):
        for k, (x, y) in enumerate(batches):
            if k >= 2:                 # a smaller batch from here on: new programs
                x, y = x[:6], y[:6]
            if k == 2:
                for net in [s.net] + s.test_nets:
                    net.blobs["data"].reshape(6, 4)
                    net.blobs["label"].reshape(6)
                    net.reshape()
            for net in [s.net] + s.test_nets:
                net.blobs["data"].data[...] = x
                net.blobs["label"].data[...] = y
            s.step(35)

    calls = _compare(solver_file, monkeypatch, feed)
    assert sum(calls) > 0


def test_labels_out_of_range_raise_as_before(tmp_path, monkeypatch):
    solver_file = _write(tmp_path, LOGREG)
    with h5py.File(tmp_path / "train.h5", "a") as f:
        labels = f["label"][()]
        labels[125] = 7
        f["label"][...] = labels
    errors = []
    for enabled in (True, False):
        monkeypatch.setattr(tiny_solve, "ENABLED", enabled)
        solver = caffe.get_solver(solver_file)
        with pytest.raises(Exception) as info:
            solver.step(100)
        errors.append((type(info.value), str(info.value), solver.iter))
    assert errors[0] == errors[1]


def test_unsupported_layers_keep_the_per_layer_loop(tmp_path):
    # a ReLU with a negative slope has no form in the compiled loop
    body = NONLINEAR.replace('type: "ReLU"', 'type: "ReLU" relu_param { negative_slope: 0.1 }')
    solver = caffe.get_solver(_write(tmp_path, body))
    solver.step(3)
    assert tiny_solve._program(solver._solver) is None


def test_primitives_match_torch():
    """The checks the loop relies on, for the shapes of the brewing-logreg nets."""
    for kind, shape in [("softmax", (10, 2)), ("log", (10,)), ("sum", (10,)),
                        ("colsum", (10, 2)), ("colsum", (10, 40)), ("relu", (400,)),
                        ("mm", (2, 10, 4, 1)), ("mm", (40, 10, 4, 1)), ("mm", (10, 2, 40, 0)),
                        ("linear", (8, 4, 2, 1)), ("linear", (2, 40, 2, 1))]:
        assert kernel.check(kind, shape), (kind, shape)


@pytest.mark.parametrize("policy", [
    'lr_policy: "multistep" gamma: 0.5 stepvalue: 20 stepvalue: 20 stepvalue: 65',
    'lr_policy: "inv" gamma: 0.01 power: 0.75',
    'lr_policy: "fixed"'], ids=["multistep", "inv", "fixed"])
def test_lr_policies(tmp_path, monkeypatch, policy):
    solver_file = _write(tmp_path, LOGREG)
    text = open(solver_file).read().replace(
        'lr_policy: "step" gamma: 0.5 stepsize: 70', policy)
    open(solver_file, "w").write(text)
    calls = _compare(solver_file, monkeypatch, lambda s: s.step(120))
    assert sum(calls) > 0


def test_solver_released_without_the_collector(tmp_path):
    """The programs a solver keeps hold no reference back to it: the solver, its nets and
    their data files go with the last reference, as in Caffe (no cycle for the collector)."""
    import gc
    import weakref
    solver = caffe.get_solver(_write(tmp_path, NONLINEAR))
    solver.step(60)                                  # training runs and a test pass compiled
    engine = solver._solver
    assert tiny_solve._program(engine) is not None
    assert tiny_solve._test_program(engine, 0) is not None
    refs = [weakref.ref(engine), weakref.ref(engine.net), weakref.ref(engine.test_nets[0])]
    del engine
    gc.disable()
    try:
        del solver
        assert all(r() is None for r in refs)
    finally:
        gc.enable()
