"""``caffe-compat train|test|time``: Caffe's flags and log lines, the original (unmodified)
solvers of the paper, Ctrl-C / SIGHUP, and bad input."""
import datetime
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.cli.main import _parser, main
from caffe_compat.cli.registry import COMMANDS
from caffe_compat.io.caffemodel import read_caffemodel
from caffe_compat.io.solverstate import read_solverstate
from tests.conftest import REPO, fixture_path, public_input
from tests.small_training import make_small

# The regular expressions of Caffe's tools/extra/parse_log.py.
RE_ITER = re.compile(r"Iteration (\d+)")
RE_TRAIN = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
RE_TEST = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
RE_LR = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")


def parse_log(lines):
    """What parse_log.py extracts: (iteration, seconds, lr, loss) train rows and test rows."""
    start = None
    for line in lines:
        if "Solving" in line:
            start = _time(line)
            break
    assert start is not None, "no 'Solving' line (parse_log.py takes its start time there)"
    it, lr, train, test = -1, None, [], []
    for line in lines:
        m = RE_ITER.search(line)
        if m:
            it = int(m.group(1))
        if it == -1:
            continue
        seconds = (_time(line) - start).total_seconds()
        m = RE_LR.search(line)
        if m:
            lr = float(m.group(1))
        m = RE_TRAIN.search(line)
        if m:
            train.append((it, seconds, lr, float(m.group(3))))
        m = RE_TEST.search(line)
        if m:
            test.append((it, seconds, lr, float(m.group(3))))
    return train, test


def _time(line):
    head, clock = line.split()[:2]
    month, day = int(head[1:3]), int(head[3:5])
    hms, micro = clock.rsplit(".", 1)
    h, mi, s = (int(x) for x in hms.split(":"))
    return datetime.datetime(2000, month, day, h, mi, s, int(micro))


def glog_lines(text):
    return [line for line in text.splitlines() if re.match(r"^[IWEF]\d{4} \d\d:", line)]


def test_commands_registry():
    assert {"train", "test", "time"} <= set(COMMANDS)
    assert main(["nope"]) == 1


def test_help_lines_up_every_description(capsys):
    """``caffe-compat --help``: every command name, the longest included, stands apart from
    its description, and the descriptions start in one column."""
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.split("commands:")[1].splitlines() if line.startswith("  ")]
    assert {line.split()[0] for line in rows} == set(COMMANDS)
    starts = set()
    for line in rows:
        name = line.split()[0]
        gap = line[2 + len(name):]
        assert gap.startswith("  "), line              # at least two spaces after the name
        starts.add(len(line) - len(gap.lstrip()))
    assert len(starts) == 1, starts


@pytest.mark.parametrize("argv", [
    ["-solver", "s.prototxt"], ["-solver=s.prototxt"], ["--solver", "s.prototxt"],
    ["--solver=s.prototxt"]])
def test_flag_spellings(argv):
    parser = _parser("train", "")
    COMMANDS["train"].add_arguments(parser)
    args = parser.parse_args(argv + ["-sigint_effect=none", "--sighup-effect", "stop",
                                     "-gpu", "0", "-weights=a,b", "-level", "2",
                                     "-stage=x,y", "--source", "data=l.txt"])
    assert args.solver == "s.prototxt"
    assert (args.sigint_effect, args.sighup_effect) == ("none", "stop")
    assert (args.gpu, args.weights, args.level, args.stage) == ("0", "a,b", 2, "x,y")
    assert args.source == ["data=l.txt"]


def test_version_and_flags_before_the_command(tmp_path, monkeypatch, capsys):
    """gflags reads ``--version`` and every flag wherever they stand: ``caffe --version``
    prints "caffe version 1.0.0" and exits 0; ``caffe -iterations 2 -model M time`` times M."""
    for argv in (["--version"], ["time", "-version"]):
        assert main(argv) == 0
        assert "caffe version 1.0.0" in capsys.readouterr().out
    monkeypatch.chdir(make_small(tmp_path))
    assert main(["-iterations", "2", "-model=net.prototxt", "time"]) == 0
    assert "Iteration: 2 forward-backward time: " in capsys.readouterr().err
    assert main(["-weights", "train"]) == 1             # 'train' is the value of -weights
    assert "unknown command '-weights'" in capsys.readouterr().err


def test_bad_flag_exits_1(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "-solvr", "x"])
    assert e.value.code == 1


# ------------------------------------------------------------------------ original solvers
def _write(folder, name, n, shape, label_shape, seed):
    rng = np.random.default_rng(seed)
    with h5py.File(os.path.join(folder, f"{name}.h5"), "w") as f:
        f["data"] = rng.random((n,) + shape, dtype=np.float32)
        f["label"] = rng.random((n,) + label_shape, dtype=np.float32)
    with open(os.path.join(folder, f"{name}.txt"), "w") as f:
        f.write(f"{name}.h5\n")


@pytest.fixture(scope="module")
def cnnd_data(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("cnnd_data"))
    _write(folder, "train", 130, (1, 96, 96), (1,), 0)
    _write(folder, "test", 8, (1, 96, 96), (1,), 1)
    return folder


@pytest.fixture(scope="module")
def sr_data(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("sr_data"))
    _write(folder, "train", 130, (1, 32, 32), (1, 16, 16), 2)
    _write(folder, "test", 4, (1, 32, 32), (1, 16, 16), 3)
    return folder


ORIGINALS = [
    ("experiments/solver/solver_1F_CNN+D.prototxt",
     "experiments/network/model_1F_CNN+D.prototxt", "cnnd"),
    ("experiments/solver/solver_1F_CNN+D_vlqr.prototxt",
     "experiments/network/model_1F_CNN+D_vlqr.prototxt", "cnnd"),
    ("experiments/solver/solver_1F_CNN+D_vlqr_non_joint.prototxt",
     "experiments/network/model_1F_CNN+D_vlqr_non_joint.prototxt", "cnnd"),
    ("pretrain/Pretrain_solver.prototxt", "pretrain/Pretrain_net.prototxt", "sr"),
]


@pytest.mark.parametrize("solver,net,kind", ORIGINALS,
                         ids=["cnnd", "cnnd_vlqr", "cnnd_vlqr_non_joint", "sr_fcn"])
def test_original_solvers_run_unmodified(solver, net, kind, cnnd_data, sr_data, tmp_path,
                                         monkeypatch, capsys):
    original = public_input("original")
    solver, net = str(original / solver), str(original / net)
    before = {p: os.stat(p).st_mtime_ns for p in (solver, net)}
    monkeypatch.chdir(cnnd_data if kind == "cnnd" else sr_data)
    prefix = str(tmp_path / "emotion")
    if "vlqr.prototxt" in net:   # the other spellings: by source string, by phase:layer
        data = ["--source", "PATH/TO/train.txt=train.txt", "-source=test:data=test.txt"]
    else:
        data = ["--train-source", "train.txt", "--test-source", "test.txt"]
    rc = main(["train", f"-solver={solver}", "-model", net, *data, "--snapshot-prefix", prefix,
               "-iterations", "3", "--batch-size", "4", "--test-batch-size", "2",
               "--test-iter", "2"])
    err = capsys.readouterr().err
    assert rc == 0, err
    lines = glog_lines(err)
    msgs = [line.split("] ", 1)[1] for line in lines]
    assert "Iteration 0, Testing net (#0)" in msgs
    assert any(m.startswith("Iteration 0 (") and ", loss = " in m for m in msgs)
    assert "Iteration 0, lr = " + ("0.01" if kind == "cnnd" else "0.0001") in msgs
    assert f"Snapshotting to binary proto file {prefix}_iter_3.caffemodel" in msgs
    assert msgs[-1] == "Optimization Done."
    train, test = parse_log(lines)
    assert train and train[0][0] == 0 and test and test[0][0] == 0
    state = read_solverstate(f"{prefix}_iter_3.solverstate")
    assert state.iter == 3 and state.learned_net == f"{prefix}_iter_3.caffemodel"
    check = Net(net, f"{prefix}_iter_3.caffemodel", phase="test",
                data_sources={"data": "test.txt"})
    assert check.params
    assert before == {p: os.stat(p).st_mtime_ns for p in (solver, net)}


def test_original_solver_needs_prefix_override(cnnd_data, monkeypatch, capsys):
    """Without --snapshot-prefix the placeholder folder does not exist: a clear error."""
    original = public_input("original")
    monkeypatch.chdir(cnnd_data)
    rc = main(["train", "-solver", str(original / "experiments/solver/solver_1F_CNN+D.prototxt"),
               "-model", str(original / "experiments/network/model_1F_CNN+D.prototxt"),
               "--train-source", "train.txt", "--test-source", "test.txt"])
    err = capsys.readouterr().err
    assert rc == 1
    assert ("snapshot prefix 'PATH/TO/CAFFE_EMOTION/Snapshot/emotion' is a placeholder (choose "
            "another with --snapshot-prefix") in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------ small net runs
def test_glog_min_log_level(tmp_path, monkeypatch, capsys):
    # GLOG_minloglevel, which Caffe's tools read through glog: 1 drops the INFO lines, the
    # --log file keeps them all
    monkeypatch.chdir(make_small(tmp_path))
    monkeypatch.setenv("GLOG_minloglevel", "1")
    assert main(["train", "-solver", "solver.prototxt", "-iterations", "1",
                 "--log", "run.log"]) == 0
    err = capsys.readouterr().err
    assert not [line for line in err.splitlines() if line.startswith("I")]
    with open("run.log") as f:
        assert "Optimization Done." in f.read()
    monkeypatch.setenv("GLOG_minloglevel", "0")
    assert main(["train", "-solver", "solver.prototxt", "-iterations", "1"]) == 0
    assert "Optimization Done." in capsys.readouterr().err


def test_train_resume_and_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_small(tmp_path))
    assert main(["train", "-solver", "solver.prototxt", "-iterations", "6"]) == 0
    capsys.readouterr()
    assert main(["train", "--solver=solver.prototxt", "-snapshot",
                 "snap/small_iter_6.solverstate", "-iterations", "8"]) == 0
    err = capsys.readouterr().err
    assert "Resuming from snap/small_iter_6.solverstate" in err
    # Caffe's train ignores -iterations: the log says it stands for max_iter here
    assert "-iterations 8 replaces the solver's max_iter (Caffe's train ignores" in err
    assert "Restored the data read position" in err
    # stopped at 6 and resumed == uninterrupted: byte-identical weights at 8
    assert main(["train", "-solver", "solver.prototxt", "-iterations", "8",
                 "--snapshot-prefix", "snap/full"]) == 0
    capsys.readouterr()
    with open("snap/full_iter_8.caffemodel", "rb") as a, \
            open("snap/small_iter_8.caffemodel", "rb") as b:
        assert a.read() == b.read()
    assert main(["train", "-solver", "solver.prototxt", "-snapshot",
                 "snap/small_iter_6.solverstate", "--caffe-resume", "-iterations", "7"]) == 0
    capsys.readouterr()
    assert main(["train", "-solver", "solver.prototxt", "-weights",
                 "snap/small_iter_6.caffemodel,snap/small_iter_7.caffemodel",
                 "-iterations", "1", "--snapshot-prefix", "snap/ft"]) == 0
    err = capsys.readouterr().err
    assert err.count("Finetuning from snap/small_iter_6.caffemodel") == 2  # train + test net
    assert main(["train", "-solver", "solver.prototxt", "-weights", "a", "-snapshot", "b"]) == 1
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["train", "-solver", "missing.prototxt"], "missing.prototxt: no such solver file"),
    (["train", "-solver", "solver.prototxt", "--net", "nonet.prototxt"], "nonet.prototxt"),
    (["train", "-solver", "solver.prototxt", "--train-source", "bad.txt"],
     "HDF5 file 'gone.h5' does not exist"),
    (["train", "-solver", "solver.prototxt", "-snapshot", "nostate.solverstate"],
     "nostate.solverstate: no such solverstate file"),
    (["train", "-solver", "solver.prototxt", "-weights", "noweights.caffemodel"],
     "noweights.caffemodel"),
    (["test", "-model", "net.prototxt"], "Need model weights"),
])
def test_bad_input_is_one_clear_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_small(tmp_path))
    with open("bad.txt", "w") as f:
        f.write("gone.h5\n")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_snapshot_of_a_different_net_via_cli(tmp_path, monkeypatch, capsys):
    state = fixture_path("caffe-reference", "train", "solvers", "adam",
                        "snapshot_iter_10.solverstate")
    monkeypatch.chdir(make_small(tmp_path))
    assert main(["train", "-solver", "solver.prototxt", "-snapshot", str(state)]) == 1
    err = capsys.readouterr().err
    assert "snapshot_iter_10" in err and "Traceback" not in err


def test_test_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_small(tmp_path))
    assert main(["train", "-solver", "solver.prototxt", "-iterations", "2"]) == 0
    capsys.readouterr()
    assert main(["test", "-model", "net.prototxt", "-weights", "snap/small_iter_2.caffemodel",
                 "-iterations", "4"]) == 0
    msgs = [line.split("] ", 1)[1] for line in glog_lines(capsys.readouterr().err)]
    batches = [float(m.split(" = ")[1]) for m in msgs if m.startswith("Batch ")]
    assert [m.split(",")[0] for m in msgs if m.startswith("Batch ")] == \
        [f"Batch {i}" for i in range(4)]
    mean = [m for m in msgs if m.startswith("loss = ")][0]
    assert mean.endswith(" loss)") and "(* 1 = " in mean
    np.testing.assert_allclose(float(mean.split()[2]), np.mean(batches), rtol=1e-5)
    assert any(m.startswith("Loss: ") for m in msgs)


def test_time_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_small(tmp_path))
    assert main(["time", "-model", "net.prototxt", "-iterations", "2"]) == 0
    msgs = [line.split("] ", 1)[1] for line in glog_lines(capsys.readouterr().err)]
    for layer in ("data", "conv", "relu", "drop", "ip", "loss"):
        assert any(re.match(rf"^ *{layer}\tforward: [\d.e+-]+ ms\.$", m) for m in msgs), layer
        assert any(re.match(rf"^ *{layer}\tbackward: [\d.e+-]+ ms\.$", m) for m in msgs)
    assert any(m.startswith("Average Forward-Backward: ") for m in msgs)
    assert "Iteration: 2 forward-backward time: " in "\n".join(msgs)


# ------------------------------------------------------------------------ signals
def _spawn(folder, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "caffe_compat.cli", "train", "-solver",
                             "solver.prototxt", "-iterations", "100000", *extra],
                            cwd=folder, env=env, stderr=subprocess.PIPE, text=True)


def _wait_for(proc, pattern, lines, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if re.search(pattern, line):
            return True
    return False


def test_sigint_writes_final_snapshot(tmp_path):
    folder = make_small(tmp_path)
    proc = _spawn(folder)
    lines = []
    try:
        assert _wait_for(proc, r"Iteration 3 \(", lines), "".join(lines)
        proc.send_signal(signal.SIGHUP)   # Caffe's default: snapshot and go on
        assert _wait_for(proc, r"Snapshotting solver state", lines), "".join(lines)
        assert _wait_for(proc, r"Iteration \d+ \(", lines)
        proc.send_signal(signal.SIGINT)   # Caffe's default: stop (with the final snapshot)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines.append(rest)
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert "Optimization stopped early." in text
    snaps = sorted(f for f in os.listdir(os.path.join(folder, "snap")))
    states = [f for f in snaps if f.endswith(".solverstate")]
    assert len(states) == 2, snaps          # the SIGHUP one and the final one
    assert not any(".tmp-" in f for f in snaps)
    last = max(states, key=lambda f: int(f.split("_iter_")[1].split(".")[0]))
    state = read_solverstate(os.path.join(folder, "snap", last))
    assert read_caffemodel(os.path.join(folder, state.learned_net)).layer
    assert f"Snapshotting solver state to binary proto file snap/{last}" in text


def test_a_stop_without_a_snapshot_says_caffes_reason(tmp_path, capsys):
    # Caffe's Solve snapshots at a stop unless snapshot_after_train is false or the iteration
    # is a multiple of `snapshot` (so none at a stop during iteration 0's test pass)
    import types
    from caffe_compat.cli import _pipes
    from caffe_compat.proto import caffe_pb2
    for after, want in ((True, "none at the stop when the iteration is a multiple of "
                               "snapshot: 10"),
                        (False, "(snapshot_after_train: false)")):
        param = caffe_pb2.SolverParameter(snapshot=10, snapshot_after_train=after,
                                          snapshot_prefix=str(tmp_path / "q"))
        solver = types.SimpleNamespace(param=param, iter=0, requested_early_exit=True,
                                       snapshot_filename=lambda ext: str(tmp_path / f"q{ext}"))
        signals = types.SimpleNamespace(cause="SIGINT", watch=None)
        assert _pipes.report_stop(solver, signals, types.SimpleNamespace(files=[])) == 0
        err = capsys.readouterr().err
        assert "stopped at iteration 0 without a snapshot" in err and want in err, err
