"""Every path of a training run checked before the nets are built, all problems in one error;
a missing snapshot folder is created."""
import os

import pytest

from caffe_compat import get_solver
from caffe_compat.cli.main import main
from caffe_compat.errors import SolverError
from caffe_compat.solvers.paths import is_placeholder
from tests.small_training import make_small


@pytest.mark.parametrize("path,expected", [
    ("PATH/TO/CAFFE_EMOTION/Snapshot/emotion", True), ("path/to/train.txt", True),
    ("/data/path/to/x.h5", True), ("DATA/train.txt", True), ("snapshots/hr", False),
    ("train.txt", False), ("SNAP", False)])
def test_placeholder(path, expected):
    assert is_placeholder(path) is expected


def _solver_with(folder, **fields):
    text = open(os.path.join(folder, "solver.prototxt")).read()
    for key, value in fields.items():
        lines = [l for l in text.splitlines() if not l.startswith(key + ":")]
        text = "\n".join(lines + [f'{key}: "{value}"']) + "\n"
    open(os.path.join(folder, "solver.prototxt"), "w").write(text)


def test_all_path_problems_come_in_one_error(tmp_path, monkeypatch):
    # issue: a placeholder net, then the snapshot prefix, then each HDF5 list: one run each
    monkeypatch.chdir(make_small(tmp_path))
    net = open("net.prototxt").read().replace('"test.txt"', '"PATH/TO/test.txt"')
    open("net.prototxt", "w").write(net)
    with open("train.txt", "a") as f:
        f.write("missing_a.h5\nmissing_b.h5\n")
    _solver_with(".", snapshot_prefix="PATH/TO/Snapshot/small")
    with pytest.raises(SolverError) as e:
        get_solver("solver.prototxt", weights=["nowhere.caffemodel"])
    msg = str(e.value)
    assert "solver.prototxt: 5 path problem(s)" in msg
    assert "weights file 'nowhere.caffemodel' does not exist (-weights)" in msg
    assert "HDF5 list 'PATH/TO/test.txt' is a placeholder (override it with --test-source" in msg
    n = len(open("train.txt").read().splitlines())
    assert f"train.txt:{n - 1}: HDF5 file 'missing_a.h5' does not exist" in msg
    assert f"train.txt:{n}: HDF5 file 'missing_b.h5' does not exist" in msg
    assert "snapshot prefix 'PATH/TO/Snapshot/small' is a placeholder (choose another" in msg


def test_missing_net_and_prefix_reported_together(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_small(tmp_path))
    _solver_with(".", net="PATH/TO/net.prototxt", snapshot_prefix="PATH/TO/snap/x")
    assert main(["train", "-solver", "solver.prototxt"]) == 1
    err = capsys.readouterr().err
    assert "2 path problem(s)" in err
    assert "net 'PATH/TO/net.prototxt' is a placeholder (give the net with -model" in err
    assert "snapshot prefix 'PATH/TO/snap/x' is a placeholder" in err


def test_missing_snapshot_folder_is_created(tmp_path, monkeypatch, capsys):
    # issue: the README's `--snapshot-prefix snapshots/hr` failed in a fresh folder, and its
    # hint named the flag already given
    monkeypatch.chdir(make_small(tmp_path))
    assert main(["train", "-solver", "solver.prototxt", "-iterations", "2",
                 "--snapshot-prefix", "snapshots/deeper/hr"]) == 0
    assert os.path.isfile("snapshots/deeper/hr_iter_2.caffemodel")
    assert "Created the snapshot folder snapshots/deeper" in capsys.readouterr().err


def test_unwritable_prefix_given_by_flag_has_no_flag_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_small(tmp_path))
    open("afile", "w").close()
    assert main(["train", "-solver", "solver.prototxt", "--snapshot-prefix",
                 "afile/x/hr"]) == 1
    err = capsys.readouterr().err
    assert "folder 'afile' is not a writable folder" in err
    assert "--snapshot-prefix" not in err.split("folder 'afile'")[1]
