"""The solver loop: logs, test nets, snapshots, restore (Caffe's and ours), sidecar data
positions, weights transfer and bad input."""
import json
import os

import h5py
import numpy as np
import pytest
import torch

from caffe_compat import get_solver
from caffe_compat.errors import CaffeCompatError, DataError, NetError, SolverError, WeightsError
from caffe_compat.io.caffemodel import layer_blobs, read_caffemodel
from caffe_compat.io.solverstate import history_arrays, read_solverstate
from caffe_compat.data.caffe_random import LIBC_RAND
from caffe_compat.diagnostics.glog import SolverLog
from tests.conftest import fixture_path
from tests.small_training import make_small
from .conftest import (LOSS_TOL, WEIGHT_TOL, CaseRun, LossRecorder, history_errors, report,
                       weight_errors)


# ------------------------------------------------------------------------ Caffe's cases
def test_cnnd_log_lines(train_case):
    run = train_case("cnnd_sgd_step")
    # The displayed (running-average) losses and the test losses are printed with 6 digits;
    # ours differ from Caffe's by ~3e-7 relative, which can move the 6th digit: 1e-5.
    shown = run.log_values("), loss = ", "loss = ")
    final = run.log_values("Iteration 20, loss = ", "loss = ")
    np.testing.assert_allclose(np.concatenate([shown, final]), run.ref["loss_log"], rtol=1e-5)
    tests = run.log_values("Test net output #0: loss = ", "loss = ")
    np.testing.assert_allclose(tests, run.ref["test_loss_log"], rtol=1e-5)
    testing = [line.split("] ")[1] for line in run.log.lines if "Testing net" in line]
    assert testing == [f"Iteration {i}, Testing net (#0)" for i in run.ref["test_iter"]]
    msgs = [line.split("] ", 1)[1] for line in run.log.lines]
    for it in (10, 20):
        assert f"Snapshotting to binary proto file {run.ours(it)}" in msgs
        assert "Snapshotting solver state to binary proto file " + \
            run.ours(it).replace(".caffemodel", ".solverstate") in msgs
    assert msgs[-1] == "Optimization Done."
    assert any(m.startswith("    Train net output #0: loss = ") and "(* 1 = " in m for m in msgs)


def test_our_solverstate_matches_caffes(train_case):
    run = train_case("cnnd_sgd_step")
    for it, step in ((10, 1), (20, 2)):
        ours = os.path.join(run.out_dir, f"snapshot_iter_{it}.solverstate")
        state = read_solverstate(ours)
        ref = read_solverstate(os.path.join(run.folder, f"snapshot_iter_{it}.solverstate"))
        assert (state.iter, state.current_step) == (ref.iter, ref.current_step) == (it, step)
        assert state.learned_net == run.ours(it)
        errs = history_errors(ours, os.path.join(run.folder, f"snapshot_iter_{it}.solverstate"))
        assert max(errs) <= WEIGHT_TOL  # momentum history drifts like the weights
        assert os.path.exists(ours + ".datapos.json")


def test_test_nets_share_parameters(train_case):
    run = train_case("cnnd_sgd_step")
    net, test = run.solver.net, run.solver.test_nets[0]
    for layer in ("conv1", "conv2", "conv3", "fc4", "fc5"):
        for a, b in zip(net.params[layer], test.params[layer]):
            assert a is b


def test_vlqr_from_sr_weights_and_parity(train_case):
    """--weights from the SR snapshot: conv1-3 copied bit for bit (train and test net), conv4
    ignored with Caffe's log line, fc4/fc5 from Caffe's own filler values."""
    run = train_case("vlqr_from_sr")
    ignored = [line for line in run.log.lines if "Ignoring source layer" in line]
    assert [line.split("] ")[1] for line in ignored] == ["Ignoring source layer conv4"] * 2
    lines = [line.split("] ")[1] for line in run.log.lines]
    assert lines.count("Finetuning from ../sr_pretrain/snapshot_iter_20.caffemodel") == 2
    loss = run.loss_error()
    w10 = max(run.weight_errors(10, "snapshot_iter_10.caffemodel").values())
    w20 = max(run.weight_errors(20, "snapshot_iter_20.caffemodel").values())
    report("vlqr_from_sr", loss=loss, w10=w10, w20=w20)
    assert loss <= LOSS_TOL and w10 <= WEIGHT_TOL and w20 <= WEIGHT_TOL
    tests = run.log_values("Test net output #0: loss = ", "loss = ")
    np.testing.assert_allclose(tests, run.ref["test_loss_log"], rtol=1e-5)


def test_vlqr_copy_is_bit_identical(tmp_path, monkeypatch):
    folder = fixture_path("caffe-reference", "train", "vlqr_from_sr")
    monkeypatch.chdir(folder)
    s = get_solver("solver.prototxt", weights="../sr_pretrain/snapshot_iter_20.caffemodel",
                   snapshot_prefix=str(tmp_path / "s"))
    sr = {n: a for n, _, a in layer_blobs(read_caffemodel(
        "../sr_pretrain/snapshot_iter_20.caffemodel"))}
    for layer in ("conv1", "conv2", "conv3"):
        for j in range(2):
            np.testing.assert_array_equal(s.net.params[layer][j].detach().numpy(), sr[layer][j])
            # the test net holds the copied weights too (caffe.cpp's CopyLayers copies into
            # every net); Solver::Test shares the train net's blobs with it at its first pass
            np.testing.assert_array_equal(s.test_nets[0].params[layer][j].detach().numpy(),
                                          sr[layer][j])


def test_sr_pretrain_first_iterations(tmp_path, monkeypatch):
    """The SR case's first two updates and its iteration-0 test (the default suite's share of
    the slow full run). test.h5 holds 4 patches and the test batch is 2, so 2 test batches see
    what Caffe's 556 did (each patch 278 times): the same mean."""
    folder = fixture_path("caffe-reference", "train", "sr_pretrain")
    monkeypatch.chdir(folder)
    s = get_solver("solver.prototxt", weights="init.caffemodel", max_iter=2, test_iter=2,
                   snapshot_prefix=str(tmp_path / "s"), log=SolverLog(keep=True))
    rec = LossRecorder()
    s.add_callback(rec)
    s.solve()
    rec.losses[2] = s.final_loss
    ref = np.load("loss.npz")
    err = max(abs(float(rec.losses[i]) - float(ref["loss"][i])) / float(ref["loss"][i])
              for i in range(3))
    report("sr_pretrain (iterations 0-2)", loss=err)
    assert err <= LOSS_TOL
    tests = [float(line.rsplit("loss = ", 1)[1].split()[0]) for line in s.log.lines
             if "Test net output #0" in line]
    np.testing.assert_allclose(tests[:1], ref["test_loss_log"], rtol=1e-5)


@pytest.mark.slow
def test_sr_pretrain(train_case):
    """SR-FCN pretraining: 32x32 -> 16x16, batch 128, one test pass of 556 batches at 0."""
    run = train_case("sr_pretrain")
    loss = run.loss_error()
    w10 = max(run.weight_errors(10, "snapshot_iter_10.caffemodel").values())
    w20 = max(run.weight_errors(20, "snapshot_iter_20.caffemodel").values())
    report("sr_pretrain", loss=loss, w10=w10, w20=w20)
    assert loss <= LOSS_TOL and w10 <= WEIGHT_TOL and w20 <= WEIGHT_TOL
    tests = run.log_values("Test net output #0: loss = ", "loss = ")
    np.testing.assert_allclose(tests, run.ref["test_loss_log"], rtol=1e-5)
    h = history_errors(os.path.join(run.out_dir, "snapshot_iter_20.solverstate"),
                       os.path.join(run.folder, "snapshot_iter_20.solverstate"))
    assert max(h) <= WEIGHT_TOL


# ------------------------------------------------------------------------ resume
def test_resume_from_caffe_state_as_caffe(tmp_path):
    """Caffe's snapshot_iter_10.solverstate restored with Caffe's data position (row 0)
    continues exactly as Caffe's resumed run (the resume fixture)."""
    folder = fixture_path("caffe-reference", "train", "cnnd_sgd_step")
    run = CaseRun(folder, "solver.prototxt", tmp_path, restore="snapshot_iter_10.solverstate",
                  caffe_position=True, loss_file="../resume/loss.npz")
    loss = run.loss_error()
    w20 = max(weight_errors(run.ours(20), os.path.join(str(folder),
                                                       "../resume/snapshot_iter_20.caffemodel"))
              .values())
    report("resume (caffe position)", loss=loss, w20=w20)
    assert loss <= LOSS_TOL and w20 <= WEIGHT_TOL
    msgs = [line.split("] ")[1] for line in run.log.lines]
    assert "SGDSolver: restoring history" in msgs
    np.testing.assert_allclose(run.log_values("Test net output #0: loss = ", "loss = "),
                               run.ref["test_loss_log"], rtol=1e-5)


def test_caffe_state_with_skipped_rows_equals_uninterrupted(tmp_path):
    """Caffe's iteration-10 state plus the data position Caffe did not save (its
    uninterrupted run had read 160 rows: row 32 of 64 next) continues as Caffe's uninterrupted
    run (the resume fixture's "with_32_row_skip_equals" finding)."""
    folder = fixture_path("caffe-reference", "train", "cnnd_sgd_step")
    cwd = os.getcwd()
    os.chdir(str(folder))
    try:
        s = get_solver("solver.prototxt", snapshot_prefix=str(tmp_path / "k"),
                       caffe_position=True, log=SolverLog(keep=True))
        s.restore("snapshot_iter_10.solverstate")
        for _ in range(2):  # rows 0-31: what the uninterrupted run had read beyond 128
            s.net.layer("data").source.next_batch()
        rec = LossRecorder()
        s.add_callback(rec)
        s.solve()
        rec.losses[20] = s.final_loss
    finally:
        os.chdir(cwd)
    ref = np.load(os.path.join(str(folder), "loss.npz"))
    err = max(abs(float(rec.losses[int(i)]) - float(v)) / float(v)
              for i, v in zip(ref["iter"], ref["loss"]) if i >= 10)
    w20 = max(weight_errors(str(tmp_path / "k_iter_20.caffemodel"),
                            os.path.join(str(folder), "snapshot_iter_20.caffemodel")).values())
    report("Caffe state + 32-row skip vs Caffe uninterrupted", loss=err, w20=w20)
    assert err <= LOSS_TOL and w20 <= WEIGHT_TOL


def test_resume_with_our_position_equals_uninterrupted(train_case, tmp_path):
    """Our iteration-10 snapshot (with its data position) resumed ends bit-identical to our
    uninterrupted run, and so within tolerance of Caffe's uninterrupted run."""
    full = train_case("cnnd_sgd_step")
    state = os.path.join(full.out_dir, "snapshot_iter_10.solverstate")
    run = CaseRun(full.folder, "solver.prototxt", tmp_path, restore=state)
    for it in range(10, 21):
        assert run.recorder.losses[it] == full.recorder.losses[it]
    a = {n: x for n, _, x in layer_blobs(read_caffemodel(run.ours(20)))}
    b = {n: x for n, _, x in layer_blobs(read_caffemodel(full.ours(20)))}
    for name in b:
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(x, y)
    for x, y in zip(history_arrays(read_solverstate(os.path.join(str(tmp_path),
                                                                 "snapshot_iter_20.solverstate"))),
                    history_arrays(read_solverstate(os.path.join(full.out_dir,
                                                                 "snapshot_iter_20.solverstate")))):
        np.testing.assert_array_equal(x, y)
    w20 = max(run.weight_errors(20, "snapshot_iter_20.caffemodel").values())
    report("resume (our position) vs Caffe uninterrupted", loss=run.loss_error(10), w20=w20)
    assert w20 <= WEIGHT_TOL


def _solver(**kw):
    # each solver as the first of a process: HDF5Data's shuffle draws from the process's C
    # library rand(), which starts at srand(1)
    LIBC_RAND.seed(1)
    return get_solver("solver.prototxt", log=SolverLog(keep=True), **kw)


def _final_state(solver):
    return ([p.detach().clone() for p in solver._params],
            [h.clone() for h in solver.history], solver.current_step)


def _test_lines(log):
    return [line.split("] ")[1] for line in log.lines
            if "Test net output" in line or "Testing net" in line]


@pytest.mark.parametrize("solver_type,extra", [("Adam", "momentum2: 0.999"), ("SGD", "")])
def test_resume_bit_identical_at_any_iteration(tmp_path, monkeypatch, solver_type, extra):
    monkeypatch.chdir(make_small(tmp_path, solver_type, extra))
    full = _solver()
    full.solve()
    ref = _final_state(full)
    ref_tests = _test_lines(full.log)
    for stop in (3, 10, 17):
        first = _solver()
        first.step(stop)
        _, state = first.snapshot()
        resumed = _solver()
        resumed.solve(resume=state)
        params, history, step = _final_state(resumed)
        assert step == ref[2]
        for a, b in zip(params + history, ref[0] + ref[1]):
            assert torch.equal(a, b), f"stop at {stop}: resumed run differs"
        tests = _test_lines(resumed.log)
        assert tests == ref_tests[len(ref_tests) - len(tests):]
        assert any("Restored the data read position" in line for line in resumed.log.lines)


@pytest.mark.parametrize("request_", ["stop", "snapshot"])
def test_request_during_a_test_pass_then_resume_is_bit_identical(tmp_path, monkeypatch,
                                                                  request_):
    """A SIGINT (stop) or SIGHUP (snapshot) arriving inside the test pass of iteration 10: the
    snapshot records the test net's position at the start of the pass, so the resumed run
    (which redoes the pass) reads the same test rows and ends as the uninterrupted run."""
    monkeypatch.chdir(make_small(tmp_path, "SGD", ""))
    full = _solver()
    full.solve()
    ref = _final_state(full)
    ref_tests = _test_lines(full.log)
    first = _solver()
    sent = {"done": False}

    def action():
        inside = first._test_pass_start is not None and first.iter == 10
        if inside and not sent["done"] and first.test_nets[0].layers:
            calls = sent.setdefault("calls", 0) + 1
            sent["calls"] = calls
            if calls == 2:          # after the first of the two test batches
                sent["done"] = True
                return request_
        return "none"
    first.set_action_function(action)
    if request_ == "stop":
        first.solve()
        assert first.iter == 10 and any("Test interrupted." in line
                                        for line in first.log.lines)
    else:
        first.step(11)      # the pass at 10 runs at the start of the 11th step
    state = "snap/small_iter_10.solverstate"
    assert os.path.isfile(state) and sent["done"]
    resumed = _solver()
    resumed.solve(resume=state)
    params, history, step = _final_state(resumed)
    for a, b in zip(params + history, ref[0] + ref[1]):
        assert torch.equal(a, b)
    tests = _test_lines(resumed.log)
    assert tests == ref_tests[len(ref_tests) - len(tests):]


def test_resume_without_sidecar_is_caffes(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    first = _solver()
    first.step(4)
    _, state = first.snapshot()
    os.remove(state + ".datapos.json")
    resumed = _solver()
    resumed.restore(state)
    assert resumed.iter == 4
    assert any("No data position saved" in line for line in resumed.log.lines)
    assert resumed.net.layer("data").source.current_row == 0


def test_stale_sidecar_is_ignored(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    first = _solver()
    first.step(4)
    _, state = first.snapshot()
    first.step(2)
    first.iter = 4
    _, again = first.snapshot()  # same name, new content
    assert again == state
    with open(state + ".datapos.json") as f:
        doc = json.load(f)
    doc["solverstate_sha256"] = "0" * 64
    with open(state + ".datapos.json", "w") as f:
        json.dump(doc, f)
    resumed = _solver()
    resumed.restore(state)
    assert any("does not belong to" in line for line in resumed.log.lines)


def test_caffe_position_flag_restarts_reading(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    first = _solver()
    first.step(4)
    _, state = first.snapshot()
    resumed = _solver(caffe_position=True)
    resumed.restore(state)
    src = resumed.net.layer("data").source
    assert (src.current_file, src.current_row) == (0, 0)


def test_hdf5_snapshot_format_round_trip(tmp_path, monkeypatch):
    folder = make_small(tmp_path)
    with open("%s/solver.prototxt" % folder, "a") as f:
        f.write("snapshot_format: HDF5\nsnapshot_diff: true\n")
    monkeypatch.chdir(folder)
    full = _solver()
    full.solve()
    ref = _final_state(full)
    assert os.path.exists("snap/small_iter_20.caffemodel.h5")
    first = _solver()
    first.step(7)
    model, state = first.snapshot()
    assert model.endswith("_iter_7.caffemodel.h5") and state.endswith("_iter_7.solverstate.h5")
    with h5py.File(model, "r") as f:
        assert set(f) == {"data", "diff"}
        np.testing.assert_array_equal(f["data/conv/0"][()], first.net.params["conv"][0]
                                      .detach().numpy())
    with h5py.File(state, "r") as f:
        # H5LTmake_dataset_string's layout, as Caffe's hdf5_save_string writes it: Caffe's
        # hdf5_load_string reads the string's size in bytes as a C string, so its NUL is
        # part of the dataset (without it, Caffe 1.0 opened "..._iter_7.caffemodel.h5|;V")
        kind = f["learned_net"].id.get_type()
        assert f["learned_net"].shape == ()
        assert kind.get_size() == len(model) + 1
        assert kind.get_strpad() == h5py.h5t.STR_NULLTERM
        assert f["learned_net"][()] == model.encode()
    resumed = _solver()
    resumed.solve(resume=state)
    params, history, _ = _final_state(resumed)
    for a, b in zip(params + history, ref[0] + ref[1]):
        assert torch.equal(a, b)
    other = _solver()
    other.load_weights(other.net, model)
    assert torch.equal(other.net.params["conv"][0], first.net.params["conv"][0])


def test_snapshot_diff_binary(tmp_path, monkeypatch):
    folder = make_small(tmp_path)
    with open("%s/solver.prototxt" % folder, "a") as f:
        f.write("snapshot_diff: true\n")
    monkeypatch.chdir(folder)
    s = _solver()
    s.step(2)
    model, _ = s.snapshot()
    net = read_caffemodel(model)
    conv = [lp for lp in net.layer if lp.name == "conv"][0]
    assert len(conv.blobs[0].diff) == conv.blobs[0].shape.dim[0] * 9
    np.testing.assert_array_equal(np.array(conv.blobs[0].diff, np.float32),
                                  s.net.params["conv"][0].grad.numpy().ravel())


def test_snapshot_is_atomic(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    s = _solver()
    s.step(1)

    def boom(*a, **k):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(os, "replace", boom)
        with pytest.raises(KeyboardInterrupt):
            s.snapshot()
    assert os.listdir("snap") == []  # no half-written file, no temporary left behind


def test_stop_request_snapshots_and_stops(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    s = _solver()
    calls = {"n": 0}

    def action():
        calls["n"] += 1
        return "stop" if s.iter == 6 else ("snapshot" if s.iter == 3 else "none")
    s.set_action_function(action)
    s.solve()
    assert s.iter == 6 and s.requested_early_exit
    assert sorted(os.listdir("snap")) == sorted(
        [f"small_iter_{i}.{e}" for i in (3, 6) for e in ("caffemodel", "solverstate",
                                                        "solverstate.datapos.json")])
    assert any("Optimization stopped early." in line for line in s.log.lines)


# ------------------------------------------------------------------------ behaviour
def test_smoothed_loss_matches_caffe_arithmetic(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    s = _solver()
    s.param.average_loss = 3
    rec = LossRecorder()
    s.add_callback(rec)
    s.step(7)
    f32 = np.float32
    smoothed, window = f32(0), []
    for it in range(7):
        loss = rec.losses[it]
        if len(window) < 3:
            window.append(loss)
            smoothed = f32((smoothed * f32(len(window) - 1) + loss) / f32(len(window)))
        else:
            idx = it % 3
            smoothed = f32(smoothed + (loss - window[idx]) / f32(3))
            window[idx] = loss
    assert s.smoothed_loss == smoothed


def test_test_compute_loss_and_no_initial_test(tmp_path, monkeypatch):
    folder = make_small(tmp_path)
    with open(f"{folder}/solver.prototxt", "a") as f:
        f.write("test_compute_loss: true\ntest_initialization: false\n")
    monkeypatch.chdir(folder)
    s = _solver()
    s.solve()
    msgs = [line.split("] ")[1] for line in s.log.lines]
    assert "Iteration 0, Testing net (#0)" not in msgs
    assert "Iteration 5, Testing net (#0)" in msgs
    assert any(m.startswith("Test loss: ") for m in msgs)


def test_train_net_test_nets_and_states(tmp_path, monkeypatch):
    """train_net / test_net files, one test_iter per test net, test_state merged into each
    test net's NetState (here a stage that swaps the test data layer's source)."""
    folder = make_small(tmp_path)
    monkeypatch.chdir(folder)
    with open("net.prototxt") as f:
        net = f.read()
    staged = net.replace('include { phase: TEST } }',
                         'include { phase: TEST not_stage: "alt" } }\n'
                         'layer { name: "data" type: "HDF5Data" top: "data" top: "label"\n'
                         '  hdf5_data_param { source: "train.txt" batch_size: 3 }\n'
                         '  include { phase: TEST stage: "alt" } }')
    with open("staged.prototxt", "w") as f:
        f.write(staged)
    from caffe_compat.io.prototxt import read_solver
    p = read_solver("solver.prototxt")
    p.ClearField("net")
    p.train_net = "net.prototxt"
    p.test_net.extend(["staged.prototxt", "staged.prototxt"])
    del p.test_iter[:]
    p.test_iter.extend([1, 2])
    p.test_state.add()
    p.test_state.add().stage.append("alt")
    s = get_solver(p, log=SolverLog(keep=True))
    assert len(s.test_nets) == 2
    assert s.test_nets[0].layer("data").source.batch_size == 5
    assert s.test_nets[1].layer("data").source.batch_size == 3
    msgs = [line.split("] ")[1] for line in s.log.lines]
    assert "Creating training net from train_net file: net.prototxt" in msgs
    assert "Creating test net (#1) specified by test_net file: staged.prototxt" in msgs
    s.test_all()
    assert [len(x) for x in s.test_scores] == [1, 1]


def test_api_paths_relative_to_cwd(tmp_path, monkeypatch):
    folder = make_small(tmp_path)
    monkeypatch.chdir(folder)
    s = get_solver("solver.prototxt")
    assert len(s.test_nets) == 1 and s.iter == 0
    assert s.lr == pytest.approx(0.01)
    s.step(5)
    assert s.iter == 5 and s.lr == pytest.approx(0.005)
    model, state = s.snapshot()
    assert model == "snap/small_iter_5.caffemodel" and os.path.exists(state)


def test_progress_bar_with_log_lines(tmp_path, monkeypatch):
    import io
    monkeypatch.chdir(make_small(tmp_path))
    stream = io.StringIO()
    s = get_solver("solver.prototxt", max_iter=4, log=SolverLog(stream=stream), progress=True)
    s.solve()
    text = stream.getvalue()
    assert "train small" in text and "4/4" in text  # the bar
    assert "solver.cpp:239] Iteration 3 (" in text     # the Caffe lines, written above it


def test_gpu_mode_falls_back_to_cpu(tmp_path, monkeypatch):
    folder = make_small(tmp_path)
    with open(f"{folder}/solver.prototxt") as f:
        text = f.read()
    with open(f"{folder}/solver.prototxt", "w") as f:
        f.write(text.replace("solver_mode: CPU", "solver_mode: GPU"))
    monkeypatch.chdir(folder)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    s = _solver()
    assert s.device.type == "cpu"
    assert any("no CUDA device is available: using the CPU" in line for line in s.log.lines)


# ------------------------------------------------------------------------ bad input
def test_missing_net_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    with pytest.raises(SolverError, match="net 'nope.prototxt' does not exist"):
        _solver(net="nope.prototxt")


def test_missing_hdf5_file_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    with open("bad.txt", "w") as f:
        f.write("a.h5\nmissing.h5\n")
    with pytest.raises(SolverError, match="bad.txt:2: HDF5 file 'missing.h5' does not exist"):
        _solver(train_source="bad.txt")


def test_missing_dataset_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    with h5py.File("nolabel.h5", "w") as f:
        f["data"] = np.zeros((4, 1, 6, 6), np.float32)
    with open("bad.txt", "w") as f:
        f.write("nolabel.h5\n")
    with pytest.raises(DataError, match="'nolabel.h5' has no dataset 'label'"):
        _solver(train_source="bad.txt")


def test_wrong_shape_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    with h5py.File("flat.h5", "w") as f:
        f["data"] = np.zeros((4, 36), np.float32)
        f["label"] = np.zeros((4, 3), np.float32)
    with open("bad.txt", "w") as f:
        f.write("flat.h5\n")
    with pytest.raises(NetError, match="(?s)layer 'conv'.*'data' \\(4, 36\\).* from 'flat.h5'"):
        _solver(train_source="bad.txt")


def test_snapshot_of_a_different_net(tmp_path, monkeypatch):
    folder = fixture_path("caffe-reference", "train", "cnnd_sgd_step")
    monkeypatch.chdir(make_small(tmp_path))
    s = _solver()
    state = str(folder / "snapshot_iter_10.solverstate")
    # learned_net (snapshot_iter_10.caffemodel) is found beside the state; its layers do not
    # fit this net
    with pytest.raises(CaffeCompatError, match="snapshot_iter_10"):
        s.restore(state)


def test_history_of_another_solver_type(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    sgd = get_solver("solver.prototxt", net=None)
    sgd.param.type = "SGD"
    adam_state = sgd.snapshot()[1]  # an Adam solver: two history sets
    from caffe_compat.solvers import SGDSolver
    plain = SGDSolver("solver.prototxt")
    with pytest.raises(SolverError, match="8 history blobs.*needs 4"):
        plain.restore(adam_state)


def test_missing_learned_net(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path))
    s = _solver()
    model, state = s.snapshot()
    os.remove(model)
    with pytest.raises(WeightsError, match="learned_net"):
        _solver().restore(state)


def test_test_iter_rules(tmp_path, monkeypatch):
    folder = make_small(tmp_path)
    monkeypatch.chdir(folder)
    from caffe_compat.io.prototxt import read_solver
    p = read_solver("solver.prototxt")
    p.test_net.extend(["net.prototxt", "net.prototxt"])  # two test nets, one test_iter
    with pytest.raises(SolverError, match="test_iter must be given for each test net"):
        get_solver(p)
    p = read_solver("solver.prototxt")
    p.test_interval = 0
    with pytest.raises(SolverError, match="test_interval must be positive"):
        get_solver(p)


def test_test_net_shares_the_trained_layers_from_its_first_test_pass(tmp_path, monkeypatch):
    # Caffe's Solver::Test calls ShareTrainedLayersWith at each pass: before the first one the
    # test net holds its own blobs (its filler values), from it on the train net's
    monkeypatch.chdir(make_small(tmp_path, solver_type="SGD", extra="", test_interval=3))
    s = get_solver("solver.prototxt")

    def shared():
        train, test = s.net.params, s.test_nets[0].params
        return [test[k][j] is train[k][j] for k in train for j in range(len(train[k]))]
    assert not any(shared())
    s.step(1)                               # iteration 0 tests first (test_initialization)
    assert all(shared())
    s.step(4)
    assert all(shared())


def test_a_test_net_that_cannot_share_is_an_error_at_set_up(tmp_path, monkeypatch):
    # Caffe would stop at the first test pass; the shape mismatch is reported before training
    monkeypatch.chdir(make_small(tmp_path, solver_type="SGD", extra=""))
    text = open("net.prototxt").read()
    old = 'convolution_param { num_output: 4 kernel_size: 3'
    assert old in text
    conv = text[text.index('layer { name: "conv"'):text.index('layer { name: "relu"')]
    wide = conv.replace("num_output: 4", "num_output: 5").replace(
        'top: "conv"', 'top: "conv" include { phase: TEST }', 1)
    text = text.replace(conv, conv.replace('top: "conv"', 'top: "conv" include { phase: TRAIN }', 1)
                        + wide)
    open("net.prototxt", "w").write(text)
    with pytest.raises(NetError, match="cannot share param 0 of layer 'conv'"):
        get_solver("solver.prototxt")
