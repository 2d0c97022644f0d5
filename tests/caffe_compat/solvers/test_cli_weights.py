"""``caffe-compat test|train --weights``: weights that leave layers of the net uncovered are a
``W`` log line and a WeightsMismatchWarning beside Caffe's ``Ignoring source layer`` lines;
files that are no weights are a one-line error naming the file and what it is."""
import re
import warnings

import pytest

from caffe_compat import Net
from caffe_compat.cli.main import main
from caffe_compat.errors import WeightsMismatchWarning
from tests.conftest import REPO

QUICKSTART = REPO / "examples" / "quickstart"


@pytest.fixture
def quickstart(tmp_path, monkeypatch):
    """(the quick start's train net with fc2 renamed fc_out, a caffemodel of its deploy net);
    the working folder is the repository's root, where the net's data paths start."""
    monkeypatch.chdir(REPO)
    renamed = tmp_path / "renamed.prototxt"
    renamed.write_text((QUICKSTART / "train_val.prototxt").read_text().replace('"fc2"',
                                                                              '"fc_out"'))
    weights = tmp_path / "quickstart.caffemodel"
    Net(str(QUICKSTART / "deploy.prototxt"), seed=1).save(weights)
    return str(renamed), str(weights)


def w_lines(err):
    return [line for line in err.splitlines() if re.match(r"^W\d{4} ", line)]


def test_test_logs_and_warns(quickstart, capsys):
    renamed, weights = quickstart
    with pytest.warns(WeightsMismatchWarning, match="'fc_out'"):
        assert main(["test", "-model", renamed, "-weights", weights, "-iterations", "1"]) == 0
    err = capsys.readouterr().err
    assert "net.cpp:746] Ignoring source layer fc2" in err
    lines = w_lines(err)
    assert len(lines) == 1, err
    # no Caffe line says this: the place is the Python line that logs it
    assert f"weights_coverage.py:" in lines[0]
    assert f"] {weights}: these weights do not cover net 'quickstart'" in lines[0]
    assert "'fc_out' (2 blobs" in lines[0] and "'fc2'" in lines[0]
    # its own weights: no W line
    assert main(["test", "-model", str(QUICKSTART / "train_val.prototxt"), "-weights",
                 weights, "-iterations", "1"]) == 0
    assert not w_lines(capsys.readouterr().err)


def test_train_weights_logs_and_warns(quickstart, tmp_path, capsys):
    renamed, weights = quickstart
    with pytest.warns(WeightsMismatchWarning, match="'fc_out'"):
        assert main(["train", "-solver", str(QUICKSTART / "solver.prototxt"), "-model", renamed,
                     "-weights", weights, "-iterations", "1", "--snapshot-prefix",
                     str(tmp_path / "snap"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "Finetuning from" in err and "Ignoring source layer fc2" in err
    lines = w_lines(err)
    assert lines and all("these weights do not cover net 'quickstart'" in line
                         for line in lines), err


def test_the_warnings_filter_makes_it_a_one_line_error(quickstart, capsys):
    renamed, weights = quickstart
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        assert main(["test", "-model", renamed, "-weights", weights, "-iterations", "1"]) == 1
    err = capsys.readouterr().err
    assert f"caffe-compat test: error: {weights}: these weights do not cover net" in err


@pytest.mark.parametrize("name, expected", [
    ("train.h5", r"an HDF5 data file with dataset\(s\) 'data' \(64, 1, 8, 8\), 'label' "
                 r"\(64, 1\) \(a training data source.*not weights; pass a \.caffemodel"),
    ("deploy.prototxt", r"a text file \(a prototxt\?\), not a binary caffemodel; a net "
                        r"definition goes first"),
])
def test_a_file_that_is_no_weights_is_a_one_line_error(quickstart, capsys, name, expected):
    path = str(QUICKSTART / name)
    assert main(["test", "-model", str(QUICKSTART / "train_val.prototxt"), "-weights", path,
                 "-iterations", "1"]) == 1
    err = capsys.readouterr().err
    assert re.search(rf"caffe-compat test: error: {re.escape(path)}: {expected}", err), err
