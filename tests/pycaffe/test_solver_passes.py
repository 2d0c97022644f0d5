"""The passes a solver runs by itself leave pycaffe's blobs as real Caffe's: after ``step(1)`` at
iteration 0 (the test pass runs first) ``test_nets[0].blobs`` hold the last batch of that pass;
after ``solve()`` ``net.blobs`` hold the batch of its final display forward and
``test_nets[0].blobs`` the last batch of its final test pass; callbacks see the same blobs as
Caffe's callbacks do. Against real Caffe 1.0 (fixtures/solver_passes/make_solver_passes.py).
"""
import os

import h5py
import numpy as np
import pytest

import caffe
from tests.caffe_compat.reference import scaled_error

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "solver_passes",
                       "solver_passes.npz")
# Blobs computed from the initial weights (the first test pass and the first training
# forward): one forward in another float32 summation order than Caffe's im2col + OpenBLAS GEMM
# (tests/caffe_compat/reference.py's FORWARD_TOL).
FORWARD_TOL = 1e-5
# Blobs computed after the updates: the summation-order difference of every forward and
# backward carried through 6 SGD steps (the solver tests' WEIGHT_TOL for the same drift).
TRAINED_TOL = 1e-4
# What a layer reads from its data source, and the argmax count of Accuracy: no arithmetic.
EXACT = {"data", "label", "accuracy"}


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture
def solver_run(reference, tmp_path, monkeypatch):
    """The fixture's program run by our pycaffe: {key: array} under the fixture's keys."""
    monkeypatch.chdir(tmp_path)
    for split in ("train", "test"):
        path = tmp_path / f"{split}.h5"
        with h5py.File(path, "w") as f:
            f["data"] = reference[f"input/{split}_data"]
            f["label"] = reference[f"input/{split}_label"]
        (tmp_path / f"{split}.txt").write_text(f"{path}\n")
    (tmp_path / "net.prototxt").write_text(str(reference["meta/net"]))
    (tmp_path / "solver.prototxt").write_text(str(reference["meta/solver"]))
    caffe.set_mode_cpu()
    solver = caffe.SGDSolver("solver.prototxt")
    for layer in ("conv1", "ip1"):
        for i, blob in enumerate(solver.net.params[layer]):
            blob.data[...] = reference[f"input/param/{layer}/{i}"]
    solver.net.forward()
    solver.test_nets[0].forward()
    seen = {"start_test_ip1": [], "start_test_label": [], "start_train_ip1": [],
            "ready_train_ip1": []}

    def on_start():
        seen["start_test_ip1"].append(solver.test_nets[0].blobs["ip1"].data.copy())
        seen["start_test_label"].append(solver.test_nets[0].blobs["label"].data.copy())
        seen["start_train_ip1"].append(solver.net.blobs["ip1"].data.copy())

    def on_gradients_ready():
        seen["ready_train_ip1"].append(solver.net.blobs["ip1"].data.copy())

    solver.add_callback(on_start, on_gradients_ready)
    out = {}
    solver.step(1)
    for prefix, net in (("step1/test", solver.test_nets[0]), ("step1/train", solver.net)):
        out.update({f"{prefix}/{n}": b.data.copy() for n, b in net.blobs.items()})
    solver.solve()
    assert solver.iter == 6
    for prefix, net in (("solve/test", solver.test_nets[0]), ("solve/train", solver.net)):
        out.update({f"{prefix}/{n}": b.data.copy() for n, b in net.blobs.items()})
    for layer in ("conv1", "ip1"):
        for i, blob in enumerate(solver.net.params[layer]):
            out[f"solve/param/{layer}/{i}"] = blob.data.copy()
    out.update({f"callback/{k}": np.stack(v) for k, v in seen.items()})
    return out


def _check(ours, reference, prefix, tol):
    keys = sorted(k for k in reference if k.startswith(prefix + "/"))
    assert keys and set(keys) == {k for k in ours if k.startswith(prefix + "/")}
    for key in keys:
        if key.rsplit("/", 1)[1] in EXACT:
            np.testing.assert_array_equal(ours[key], reference[key], err_msg=key)
        else:
            err = scaled_error(ours[key], reference[key])
            assert err <= tol, f"{key}: scaled error {err:.3g}"


def test_test_pass_of_the_first_step_is_left_in_the_test_net(solver_run, reference):
    # the last batch of the iteration-0 test pass: items 6, 0, 1 (the hand forward read 0..2)
    np.testing.assert_array_equal(solver_run["step1/test/label"],
                                  reference["input/test_label"][[6, 0, 1]])
    _check(solver_run, reference, "step1/test", FORWARD_TOL)


def test_train_net_holds_the_first_iteration(solver_run, reference):
    _check(solver_run, reference, "step1/train", FORWARD_TOL)


def test_solve_leaves_its_display_forward_and_last_test_pass(solver_run, reference):
    # the hand forward and 6 iterations read 28 of the 10 items, the display forward the next
    np.testing.assert_array_equal(solver_run["solve/train/label"],
                                  reference["input/train_label"][[8, 9, 0, 1]])
    _check(solver_run, reference, "solve/train", TRAINED_TOL)
    _check(solver_run, reference, "solve/test", TRAINED_TOL)
    _check(solver_run, reference, "solve/param", TRAINED_TOL)


def test_callbacks_see_caffes_blobs(solver_run, reference):
    assert solver_run["callback/start_test_ip1"].shape[0] == 6      # step(1), then 5 more
    for key in ("start_test_label", "start_test_ip1", "start_train_ip1", "ready_train_ip1"):
        ours, ref = solver_run[f"callback/{key}"], reference[f"callback/{key}"]
        if key.endswith("label"):
            np.testing.assert_array_equal(ours, ref, err_msg=key)
            continue
        for i, (a, b) in enumerate(zip(ours, ref)):
            err = scaled_error(a, b)
            assert err <= TRAINED_TOL, f"{key} at iteration {i}: scaled error {err:.3g}"
