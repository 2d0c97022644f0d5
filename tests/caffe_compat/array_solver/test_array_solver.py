"""The array engine's SGD solver (caffe_compat.array_solver): real Caffe 1.0's training run of
the CNN+D net (tests/fixtures/caffe-reference/train/cnnd_sgd_step), the torch engine's solver on
the same run, snapshot and restore, pycaffe without torch, and what it leaves to torch."""
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from caffe_compat.array_solver import ArraySolver, build_array_solver
from caffe_compat.diagnostics.glog import SolverLog
from caffe_compat.io import prototxt
from tests.caffe_compat.solvers.conftest import LOSS_TOL, WEIGHT_TOL, weight_errors
from tests.conftest import fixture_path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


@pytest.fixture(autouse=True)
def _own_stream():
    """The solvers here seed the thread's Caffe stream and, on torch, torch's generator
    (random_seed): the tests after them get the streams they would have had."""
    import torch
    from caffe_compat.data import caffe_random
    saved = getattr(caffe_random._THREAD, "rng", None)
    torch_state = torch.get_rng_state()
    yield
    torch.set_rng_state(torch_state)
    if saved is None:
        caffe_random._THREAD.__dict__.pop("rng", None)
    else:
        caffe_random._THREAD.rng = saved


class _Losses:
    def __init__(self):
        self.losses = {}

    def on_iteration_end(self, solver, loss):
        self.losses[solver.iter - 1] = loss


def _cnnd_run(out_dir):
    folder = fixture_path("caffe-reference", "train", "cnnd_sgd_step")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        param = prototxt.read_solver("solver.prototxt")
        param.weights.append("init.caffemodel")
        param.snapshot_prefix = os.path.join(str(out_dir), "snapshot")
        log = SolverLog(keep=True)
        solver = build_array_solver(param, "solver.prototxt", log=log)
        assert isinstance(solver, ArraySolver)
        losses = _Losses()
        solver.add_callback(losses)
        solver.solve()
        losses.losses[solver.iter] = solver.final_loss
        solver.close()
    finally:
        os.chdir(cwd)
    ref = dict(np.load(os.path.join(str(folder), "loss.npz")))
    return folder, ref, losses.losses, log


def test_cnnd_sgd_step_against_caffe(tmp_path):
    """Caffe 1.0's own run (caffe train --weights=init.caffemodel, 20 iterations, momentum,
    weight decay, step policy, a test pass every 10): losses within LOSS_TOL and weights
    within WEIGHT_TOL, the torch engine's tolerances (the same float32 summation-order drift:
    backward products in numpy's order, not Caffe's)."""
    folder, ref, losses, log = _cnnd_run(tmp_path)
    ours = np.array([losses[int(i)] for i in ref["iter"]], np.float64)
    loss_err = float(np.max(np.abs(ours - ref["loss"]) / np.abs(ref["loss"])))
    assert loss_err <= LOSS_TOL
    for it in (10, 20):
        errors = weight_errors(str(tmp_path / f"snapshot_iter_{it}.caffemodel"),
                               os.path.join(str(folder), f"snapshot_iter_{it}.caffemodel"))
        assert max(errors.values()) <= WEIGHT_TOL, errors
    text = "\n".join(log.lines)
    assert "Iteration 10, Testing net (#0)" in text and "Optimization Done." in text
    assert "Iteration 7, lr = 0.0001" in text        # the step policy's first step


def test_snapshot_restore_continues_the_same_run(tmp_path):
    """Restoring the iteration-10 snapshot and training to 20 gives the uninterrupted run's
    weights bit for bit (the HDF5 read position comes back from the sidecar)."""
    folder = fixture_path("caffe-reference", "train", "cnnd_sgd_step")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        def fresh(prefix):
            param = prototxt.read_solver("solver.prototxt")
            param.weights.append("init.caffemodel")
            param.snapshot_prefix = str(tmp_path / prefix)
            return build_array_solver(param, "solver.prototxt")

        whole = fresh("whole")
        whole.solve()
        resumed = fresh("resumed")
        resumed.solve(resume=str(tmp_path / "whole_iter_10.solverstate"))
        for layer, arrays in whole.net.params.items():
            for a, b in zip(arrays, resumed.net.params[layer]):
                np.testing.assert_array_equal(a, b)          # tolerance 0: the same operations
        whole.close()
        resumed.close()
    finally:
        os.chdir(cwd)


def _tiny_files(tmp_path, layers, max_iter=50, extra=""):
    rng = np.random.RandomState(0)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["data"] = rng.randn(40, 4).astype(np.float32)
        f["label"] = rng.randint(0, 2, 40).astype(np.float32)
    (tmp_path / "list.txt").write_text(str(tmp_path / "d.h5") + "\n")
    (tmp_path / "net.prototxt").write_text(textwrap.dedent(f"""
        layer {{ name: "data" type: "HDF5Data" top: "data" top: "label"
          hdf5_data_param {{ source: "{tmp_path / 'list.txt'}" batch_size: 10 }} }}
        {layers}
        layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label"
          top: "loss" }}"""))
    (tmp_path / "solver.prototxt").write_text(textwrap.dedent(f"""
        net: "{tmp_path / 'net.prototxt'}"
        base_lr: 0.1 lr_policy: "fixed" momentum: 0.9 weight_decay: 0.001
        max_iter: {max_iter} display: 0 snapshot: 0 snapshot_after_train: false
        random_seed: 3 {extra}"""))
    return str(tmp_path / "solver.prototxt")


IP = """layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }"""


def test_same_run_as_the_torch_engine(tmp_path):
    """The torch engine's solver on the same files and seed: the same filler draws and data,
    weights within 1e-5 after 50 updates (float32 products in another order)."""
    import caffe_compat
    path = _tiny_files(tmp_path, IP)
    ours = build_array_solver(prototxt.read_solver(path), path)
    ours.step(50)
    theirs = caffe_compat.get_solver(path)
    theirs.step(50)
    for (layer, k, _, _), h in zip(ours.learnable, ours.history):
        ref = theirs.net.params[layer][k].detach().numpy()
        np.testing.assert_allclose(ours.net.params[layer][k], ref, rtol=1e-5, atol=1e-6)
    ours.close()


@pytest.mark.parametrize("extra", ['type: "Adam"', 'clip_gradients: 1',
                                   'regularization_type: "L1"', "snapshot_format: HDF5"])
def test_leaves_other_rules_to_torch(tmp_path, extra):
    path = _tiny_files(tmp_path, IP, extra=extra)
    assert build_array_solver(prototxt.read_solver(path), path) is None


def test_small_nets_outside_the_compiled_loop_train_here(tmp_path):
    """A small net the array engine's compiled loop does not run (``iter_size`` 2, a leaky
    ReLU), trained for many iterations, is the array solver's all the same: its per-layer
    loop trains it."""
    leaky = IP + """
layer { name: "r" type: "ReLU" bottom: "ip" top: "ip" relu_param { negative_slope: 0.1 } }"""
    for layers, extra in ((IP, "iter_size: 2"), (leaky, "")):
        path = _tiny_files(tmp_path, layers, max_iter=5000, extra=extra)
        solver = build_array_solver(prototxt.read_solver(path), path)
        assert isinstance(solver, ArraySolver)
        solver.step(3)
        assert solver.iter == 3
        solver.close()


def test_pycaffe_solver_without_torch(tmp_path):
    """pycaffe's get_solver / solve / test_nets on a conv net in a fresh process: no torch;
    a use the array engine does not offer names the way out."""
    net = """
    layer { name: "data" type: "HDF5Data" top: "data" top: "label"
      hdf5_data_param { source: "LIST" batch_size: 5 } }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
      convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "xavier" } } }
    layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
      inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
    layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "acc" }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
    """
    rng = np.random.RandomState(1)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["data"] = rng.randn(20, 1, 2, 2).astype(np.float32)
        f["label"] = rng.randint(0, 2, 20).astype(np.float32)
    (tmp_path / "list.txt").write_text(str(tmp_path / "d.h5") + "\n")
    (tmp_path / "net.prototxt").write_text(net.replace("LIST", str(tmp_path / "list.txt")))
    (tmp_path / "solver.prototxt").write_text(
        f'net: "{tmp_path / "net.prototxt"}" test_iter: 2 test_interval: 5 base_lr: 0.01 '
        f'lr_policy: "fixed" max_iter: 10 display: 5 snapshot: 10 '
        f'snapshot_prefix: "{tmp_path / "snap"}"')
    code = textwrap.dedent(f"""
        import sys
        import caffe
        solver = caffe.get_solver({str(tmp_path / 'solver.prototxt')!r})
        solver.solve()
        acc = solver.test_nets[0].forward()["acc"]
        assert solver.iter == 10 and 0 <= float(acc) <= 1
        w = solver.net.params["ip"][0].data
        assert w is solver.test_nets[0].params["ip"][0].data     # shared after a test pass
        print("torch" in sys.modules)
        try:
            solver.net.layers
        except Exception as e:
            print(type(e).__name__, "CAFFE_COMPAT_ARRAY_NET=0" in str(e))
    """)
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "NetError", "True"]
    assert (tmp_path / "snap_iter_10.caffemodel").exists()
    assert (tmp_path / "snap_iter_10.solverstate.datapos.json").exists()
