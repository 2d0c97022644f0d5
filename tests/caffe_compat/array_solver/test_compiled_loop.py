"""The array solver's compiled loop (caffe_compat.array_solver.loop) against its own per-layer
loop: the same files and seed trained both ways leave every array, the solver's state, the
test scores and the log bit for bit the same (tolerance 0: the loop runs the layers' own
arithmetic, in C where they call C); and against real Caffe 1.0's run of a small classifier
(tests/fixtures/caffe-reference/train/small_classifier)."""
import os
import re
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from caffe_compat.array_solver import ArraySolver, build_array_solver
from caffe_compat.array_solver import loop
from caffe_compat.diagnostics.glog import SolverLog
from caffe_compat.errors import CaffeCompatError
from caffe_compat.io import prototxt
from tests.caffe_compat.solvers.conftest import LOSS_TOL, WEIGHT_TOL, weight_errors
from tests.conftest import fixture_path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

pytestmark = pytest.mark.skipif(not loop.run.array_loop.available(),
                                reason="the compiled loop's extension is not built")


@pytest.fixture(autouse=True)
def _own_folder(monkeypatch):
    monkeypatch.chdir(os.getcwd())      # given back after each test


@pytest.fixture(autouse=True)
def _own_stream():
    """The solvers here seed the thread's Caffe stream: the tests after them get the stream
    they would have had."""
    from caffe_compat.data import caffe_random
    saved = getattr(caffe_random._THREAD, "rng", None)
    yield
    if saved is None:
        caffe_random._THREAD.__dict__.pop("rng", None)
    else:
        caffe_random._THREAD.rng = saved


def _write_data(folder, classes, rows=250, test_rows=120, features=4, seed=3):
    os.chdir(folder)                    # the sources are relative to the working directory
    rng = np.random.default_rng(seed)
    for name, n in (("train", rows), ("test", test_rows)):
        label = rng.integers(0, classes, n)
        centres = rng.standard_normal((classes, features)) * 2
        x = centres[label] + rng.standard_normal((n, features))
        with h5py.File(folder / f"{name}.h5", "w") as f:
            f["data"] = x                                 # float64, as the notebook writes
            f["label"] = label.astype(np.float32)
    (folder / "train.txt").write_text("train.h5\ntrain.h5\n")
    (folder / "test.txt").write_text("test.h5\n")


def _net(source, classes, hidden, transpose=False, loss_weight=None, bias_mult=2,
         slope=0.0, normalization=None):
    ip1 = f"""
layer {{ name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
        param {{ lr_mult: 1 decay_mult: 1 }} param {{ lr_mult: {bias_mult} decay_mult: 0 }}
        inner_product_param {{ num_output: {hidden} transpose: {str(transpose).lower()}
          weight_filler {{ type: "xavier" }} bias_filler {{ type: "constant" value: 0.1 }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1"
        relu_param {{ negative_slope: {slope} }} }}""" if hidden else ""
    last = "ip1" if hidden else "data"
    weight = f"loss_weight: {loss_weight}" if loss_weight is not None else ""
    norm = f"loss_param {{ normalization: {normalization} }}" if normalization else ""
    return f"""name: "small"
layer {{ name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param {{ source: "{source}" batch_size: 10 }} }}{ip1}
layer {{ name: "ip2" type: "InnerProduct" bottom: "{last}" top: "ip2"
        inner_product_param {{ num_output: {classes} transpose: {str(transpose).lower()}
          weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss"
        {weight} {norm} }}
"""


def _files(folder, classes=3, hidden=40, policy=('lr_policy: "step"', "stepsize: 70",
                                                "gamma: 0.5"), max_iter=300, **net):
    _write_data(folder, classes)
    (folder / "train.prototxt").write_text(_net("train.txt", classes, hidden, **net))
    (folder / "test.prototxt").write_text(_net("test.txt", classes, hidden, **net))
    lines = ['train_net: "train.prototxt"', 'test_net: "test.prototxt"', "test_iter: 12",
             "test_interval: 100", "base_lr: 0.05", "momentum: 0.9", "weight_decay: 0.0005",
             "display: 40", f"max_iter: {max_iter}", "snapshot: 150", "random_seed: 11",
             f'snapshot_prefix: "{folder / "snap"}"', "solver_mode: CPU"] + list(policy)
    (folder / "solver.prototxt").write_text("\n".join(lines) + "\n")


def _state(solver):
    """Every array and number the two loops must leave the same."""
    out = {"iter": solver.iter, "smoothed": solver.smoothed_loss, "last": solver.last_loss,
           "lr": np.float32(solver.learning_rate), "step": solver.current_step,
           "losses": list(solver._losses), "scores": solver.test_scores}
    for tag, net in [("train", solver.net)] + [(f"test{i}", n)
                                              for i, n in enumerate(solver.test_nets)]:
        for name, a in net.data.items():
            out[f"{tag}/data/{name}"] = a.copy()
        for name, a in net.diff.items():
            out[f"{tag}/diff/{name}"] = a.copy()
        for name, arrays in net.params.items():
            for k, a in enumerate(arrays):
                out[f"{tag}/param/{name}/{k}"] = a.copy()
        for key, a in net.param_diffs.items():
            out[f"{tag}/param_diff/{key}"] = a.copy()
        for i, layer in enumerate(net.layers):
            if layer.is_data:
                out[f"{tag}/row/{i}"] = (layer.source.current_row, layer.source.file_index
                                         if hasattr(layer.source, "file_index") else None)
    for j, h in enumerate(solver.history):
        out[f"history/{j}"] = h.copy()
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, key
            assert x.tobytes() == y.tobytes(), key
        else:
            assert repr(x) == repr(y), key


def _train(folder, enabled, monkeypatch, run=None):
    """Train from ``folder``'s solver file with the compiled loop on or off: the final state,
    the log (timings dropped) and the number of iterations and test passes the loop ran."""
    monkeypatch.setattr(loop.run, "ENABLED", enabled)
    ran = []
    real = loop.run.run_iterations

    def counted(*args):
        done = real(*args)
        ran.append(done)
        return done
    monkeypatch.setattr(loop, "run_iterations", counted)
    real_test = loop.run.run_test_batches

    def counted_test(*args):
        got = real_test(*args)
        ran_test.append(0 if got is None else len(got[1]))
        return got
    ran_test = []
    monkeypatch.setattr(loop, "run_test_batches", counted_test)
    log = SolverLog(keep=True)
    param = prototxt.read_solver(str(folder / "solver.prototxt"))
    solver = build_array_solver(param, str(folder / "solver.prototxt"), log=log)
    assert isinstance(solver, ArraySolver)
    try:
        (run or (lambda s: s.solve()))(solver)
        state = _state(solver)
    finally:
        solver.close()
    return state, _log_text(log.lines), sum(ran) + sum(ran_test)


def _log_text(lines):
    """The messages, the display line's timings left out."""
    out = []
    for line in lines:
        msg = line.split("] ", 1)[-1]
        out.append(re.sub(r" \(.* iter/s, .*iters\)", "", msg))
    return out


def _compare(folder, monkeypatch, run=None):
    ours, ours_log, ran = _train(folder, True, monkeypatch, run)
    ref, ref_log, ran_ref = _train(folder, False, monkeypatch, run)
    assert ran_ref == 0 and ran > 0
    _assert_same(ours, ref)
    assert ours_log == ref_log
    return ours, ran


def test_hidden_layer_net_step_policy(tmp_path, monkeypatch):
    """The brewing notebook's nonlinear net (HDF5Data, InnerProduct, ReLU, Split, Accuracy,
    SoftmaxWithLoss), three classes, bias lr_mult 2, weight decay, momentum, the step policy,
    the train file listed twice (its end and the second file reached several times), test
    passes and snapshots: every array and the log the same; most iterations in the loop."""
    _files(tmp_path)
    state, ran = _compare(tmp_path, monkeypatch)
    # 300 iterations, 4 test passes of 12 batches (the first and last of each in Python)
    assert state["iter"] == 300 and ran >= 250 + 4 * 10
    assert (tmp_path / "snap_iter_150.caffemodel").exists()


def test_logistic_regression_transpose_weight_multistep(tmp_path, monkeypatch):
    """No hidden layer, transposed weights, loss_weight 2 and no normalization, multistep
    (its messages stop a run): the same."""
    _files(tmp_path, classes=2, hidden=0, transpose=True, loss_weight=2.0,
           normalization="NONE", policy=('lr_policy: "multistep"', "stepvalue: 55",
                                         "stepvalue: 180", "gamma: 0.3"))
    _compare(tmp_path, monkeypatch)


def test_step_calls(tmp_path, monkeypatch):
    """``step(n)`` calls of several lengths one after the other (the last iteration of each
    in Python), then ``solve()`` to the end."""
    _files(tmp_path, classes=4, hidden=7, max_iter=260)

    def run(solver):
        for n in (1, 37, 2, 99, 50):
            solver.step(n)
        solver.solve()
    _compare(tmp_path, monkeypatch, run)


def test_refused_net_runs_per_layer(tmp_path, monkeypatch):
    """A leaky ReLU has no operation in the loop: the per-layer loop trains it."""
    _files(tmp_path, slope=0.1, max_iter=30)
    _, _, ran = _train(tmp_path, True, monkeypatch)
    assert ran == 0


def test_label_out_of_range_reported_as_per_layer(tmp_path, monkeypatch):
    """A label beyond the classes stops the loop before its iteration; Python runs it and
    raises the layer's error at the same iteration, with the same state before it."""
    _files(tmp_path, max_iter=200)
    with h5py.File(tmp_path / "train.h5", "r+") as f:
        label = f["label"][...]
        label[137] = 3.0                                    # three classes: 0, 1, 2
        f["label"][...] = label
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(loop.run, "ENABLED", enabled)
        param = prototxt.read_solver(str(tmp_path / "solver.prototxt"))
        solver = build_array_solver(param, str(tmp_path / "solver.prototxt"),
                                    log=SolverLog(keep=True))
        try:
            with pytest.raises(CaffeCompatError, match="label values must lie in"):
                solver.solve()
            results.append(solver.iter)
            results.append(solver.net.params["ip2"][0].copy())
        finally:
            solver.close()
    assert results[0] == results[2] == 13                   # rows 130-139: iteration 13
    assert results[1].tobytes() == results[3].tobytes()


def test_pycaffe_brewing_without_torch(tmp_path):
    """pycaffe's solve() of the brewing notebook's kind of net in a fresh process: trained
    by the loop, no torch imported."""
    _files(tmp_path, max_iter=400)
    script = textwrap.dedent(f"""
        import sys
        import caffe
        caffe.set_mode_cpu()
        solver = caffe.get_solver({str(tmp_path / "solver.prototxt")!r})
        solver.solve()
        assert solver.iter == 400
        acc = solver.test_nets[0].forward()["accuracy"]
        assert 0.0 <= float(acc) <= 1.0
        assert "torch" not in sys.modules, "torch was imported"
        print("ok", float(acc))
    """)
    env = dict(os.environ, PYTHONPATH=REPO)
    res = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("ok")


class _Losses:
    def __init__(self):
        self.losses = {}

    def on_iteration_end(self, solver, loss):
        self.losses[solver.iter - 1] = loss


def _caffe_case(tmp_path):
    folder = fixture_path("caffe-reference", "train", "small_classifier")
    for name in ("net.prototxt", "solver.prototxt", "train.h5", "test.h5", "init.caffemodel",
                 "train_h5_list.txt", "test_h5_list.txt"):
        shutil.copy(os.path.join(str(folder), name), tmp_path / name)
    os.chdir(tmp_path)
    param = prototxt.read_solver("solver.prototxt")
    param.weights.append("init.caffemodel")
    return folder, param


def _numbers(lines, pattern):
    return [float(m.group(1)) for m in (re.search(pattern, line) for line in lines) if m]


def test_small_classifier_against_caffe(tmp_path, monkeypatch):
    """Real Caffe 1.0's ``caffe train`` of the small classifier (train/small_classifier: the
    brewing notebook's kind of net, 300 iterations, test passes, the train file's end reached
    every 25 iterations), run by the compiled loop: weights at the snapshots of 150 and 300
    within WEIGHT_TOL, displayed train losses and test outputs within 1e-4 relative plus the
    log's six digits; and every iteration's loss (the per-layer loop, which the tests above
    show gives the loop's bits) within LOSS_TOL of Caffe's. The tolerances are the torch
    engine's for the same float32 summation-order drift (the backward products' and the
    update's order are OpenBLAS's kernels against exact sequential sums)."""
    folder, param = _caffe_case(tmp_path)
    log = SolverLog(keep=True)
    solver = build_array_solver(param, "solver.prototxt", log=log)
    assert isinstance(solver, ArraySolver)
    ran = []
    real = loop.run.run_iterations
    monkeypatch.setattr(loop, "run_iterations", lambda *a: ran.append(real(*a)) or ran[-1])
    solver.solve()
    solver.close()
    assert sum(ran) >= 250
    for it in (150, 300):
        errors = weight_errors(str(tmp_path / f"snapshot_iter_{it}.caffemodel"),
                               os.path.join(str(folder), f"snapshot_iter_{it}.caffemodel"))
        assert max(errors.values()) <= WEIGHT_TOL, (it, errors)
    with open(fixture_path("caffe-reference", "train", "small_classifier", "caffe.log")) as f:
        caffe_lines = f.read().splitlines()
    for pattern in (r"Iteration \d+ \(.*\), loss = (\S+)", r"Iteration 300, loss = (\S+)",
                    r"Test net output #0: accuracy = (\S+)", r"Test net output #1: loss = (\S+)"):
        ours, theirs = _numbers(log.lines, pattern), _numbers(caffe_lines, pattern)
        assert len(ours) == len(theirs) > 0, pattern
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6, err_msg=pattern)

    monkeypatch.setattr(loop.run, "ENABLED", False)
    solver = build_array_solver(param, "solver.prototxt")
    losses = _Losses()
    solver.add_callback(losses)
    solver.solve()
    losses.losses[solver.iter] = solver.final_loss
    solver.close()
    ref = dict(np.load(os.path.join(str(folder), "loss.npz")))
    ours = np.array([losses.losses[int(i)] for i in ref["iter"]], np.float64)
    assert float(np.max(np.abs(ours - ref["loss"]) / np.abs(ref["loss"]))) <= LOSS_TOL
