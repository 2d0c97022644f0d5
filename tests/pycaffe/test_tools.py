"""caffe.draw and the command-line tools draw, parse-log and plot-log."""
import csv
import pathlib
import re
import shutil

import pytest
from google.protobuf import text_format

import caffe
import caffe.draw
from caffe.proto import caffe_pb2
from caffe_compat.cli import main as cli
from caffe_compat.tools import extra as extra_tools  # noqa: F401  (registers the subcommands)
from caffe_compat.tools import training_log

from . import netspec_programs

REPO = pathlib.Path(__file__).resolve().parents[2]
LOG = pathlib.Path(__file__).parent / "fixtures" / "train_log" / "caffe_train.log"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed (apt-get "
                                      "install graphviz)")


def _nets():
    """Every net definition of the project and of the NetSpec programs (pycaffe's test_draw
    draws every prototxt of Caffe's models/ and examples/)."""
    for path in sorted((REPO / "prototxt").glob("*.prototxt")):
        if "solver" not in path.name:
            yield path.name, path.read_text()
    for name, program in netspec_programs.PROGRAMS.items():
        yield name, program()


@needs_dot
@pytest.mark.parametrize("name,text", list(_nets()), ids=[n for n, _ in _nets()])
def test_draw_every_net(name, text):
    net = caffe_pb2.NetParameter()
    text_format.Merge(text, net)
    image = caffe.draw.draw_net(net, "LR")
    assert image.startswith(b"\x89PNG")


def test_graph_follows_pycaffes_rules():
    net = caffe_pb2.NetParameter()
    text_format.Merge(netspec_programs.caffenet_val(), net)
    graph = caffe.draw.get_pydot_graph(net, "TB", phase=caffe.TEST, display_lrm=True)
    dot = graph.to_string()
    assert '"Convolution1 (Convolution) kernel size: 11 stride: 4 pad: 0 lr mult: 1.0, 2.0"' \
        in dot
    assert "#FF5050" in dot and "#90EE90" in dot and "octagon" in dot
    assert 'label="Batch 50"' in dot and 'label=96' in dot
    labels = caffe.draw.get_layer_label(net.layer[3], "LR")
    assert labels == r'"Pooling1\n(Pooling MAX)\nkernel size: 3\nstride: 2\npad: 0"'
    assert caffe.draw.get_layer_lr_mult(net.layer[1]) == (1.0, 2.0)
    with pytest.raises(ValueError, match="learning rate multiplier"):
        caffe.draw.get_layer_lr_mult(net.layer[3])


def test_phase_filter():
    net = caffe_pb2.NetParameter()
    text_format.Merge(netspec_programs.assorted(), net)
    train = caffe.draw.get_pydot_graph(net, "LR", phase=caffe.TRAIN).to_string()
    test = caffe.draw.get_pydot_graph(net, "LR", phase=caffe.TEST).to_string()
    assert "HDF5Data" in train and "HDF5Data" not in test


def test_draw_command_writes_dot_text_without_graphviz(tmp_path):
    out = tmp_path / "net.raw"
    assert cli.main(["draw", str(REPO / "prototxt" / "cnnd_deploy.prototxt"), str(out),
                     "--rankdir", "TB"]) == 0
    assert out.read_text().startswith("digraph")


@needs_dot
def test_draw_command_png(tmp_path):
    out = tmp_path / "net.png"
    assert cli.main(["draw", str(REPO / "prototxt" / "cnnd_deploy.prototxt"), str(out),
                     "--phase", "TEST", "--display_lrm"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_draw_command_names_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.prototxt"
    bad.write_text("layer { name: 'a' typo: 1 }")
    assert cli.main(["draw", str(bad), str(tmp_path / "x.png")]) == 1
    assert "bad.prototxt" in capsys.readouterr().err


# ---- parse-log on a real Caffe log (glog's yyyymmdd dates) and on the classic mmdd form
def _expected_rows():
    """The rows parse_log.py's rules give, read off the log by hand-written patterns."""
    text = LOG.read_text()
    train = [(float(i), float(lv)) for i, lv in re.findall(
        r"Iteration (\d+) \(.*\n.*Train net output #0: loss = ([\d.e+-]+)", text)]
    test = [(float(i), float(a), float(lv)) for i, a, lv in re.findall(
        r"Iteration (\d+), Testing net.*\n.*accuracy = ([\d.e+-]+)\n.*loss = ([\d.e+-]+)",
        text)]
    return train, test


@pytest.mark.parametrize("classic", [False, True])
def test_parse_log_tables(tmp_path, classic):
    log = tmp_path / "caffe.INFO"
    text = LOG.read_text()
    if classic:                      # the glog of Caffe's days: Immdd
        text = re.sub(r"^([IWEF])\d{4}(\d{4}) ", r"\1\2 ", text, flags=re.M)
    log.write_text(text)
    assert cli.main(["parse-log", str(log), str(tmp_path)]) == 0
    train_rows = list(csv.DictReader(open(tmp_path / "caffe.INFO.train", newline="")))
    test_rows = list(csv.DictReader(open(tmp_path / "caffe.INFO.test", newline="")))
    train, test = _expected_rows()
    assert [(float(r["NumIters"]), float(r["loss"])) for r in train_rows] == train
    assert [(float(r["NumIters"]), float(r["accuracy"]), float(r["loss"]))
            for r in test_rows] == test
    assert list(train_rows[0]) == ["NumIters", "Seconds", "LearningRate", "loss"]
    # the last "lr =" seen before the row's outputs: Caffe prints iteration 10's halved rate
    # after its outputs, so it shows from iteration 15 (the first row takes the second's)
    assert [float(r["LearningRate"]) for r in train_rows] == [0.1, 0.1, 0.1, 0.05]
    assert all(float(r["Seconds"]) >= 0 for r in train_rows)
    raw = (tmp_path / "caffe.INFO.train").read_bytes()
    assert raw.startswith(b"NumIters,Seconds,LearningRate,loss\r\n0.0,")   # csv.excel, floats


def test_parse_log_says_what_it_wrote(tmp_path, capsys):
    """Without --verbose, one line naming the tables written and their rows; a log with no
    rows yet says that nothing was written (and writes nothing)."""
    log = tmp_path / "caffe.INFO"
    log.write_text(LOG.read_text())
    assert cli.main(["parse-log", str(log), str(tmp_path)]) == 0
    train, test = _expected_rows()
    assert capsys.readouterr().out == (f"parse-log: wrote {tmp_path / 'caffe.INFO.train'} "
                                       f"({len(train)} rows), {tmp_path / 'caffe.INFO.test'} "
                                       f"({len(test)} rows)\n")
    short = tmp_path / "short.log"
    short.write_text("".join(line for line in LOG.read_text().splitlines(keepends=True)
                             if "Iteration" not in line and "Test net" not in line))
    assert cli.main(["parse-log", str(short), str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out == (f"parse-log: {short} has no training or test rows "
                                       "yet; nothing written\n")
    assert not (tmp_path / "none").exists()


def test_parse_log_of_our_own_solver(tmp_path):
    import io

    import caffe_compat
    net = tmp_path / "net.prototxt"
    net.write_text("""layer { name: 'in' type: 'Input' top: 'x' top: 'y'
      input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 1 } } }
    layer { name: 'fc' type: 'InnerProduct' bottom: 'x' top: 'fc'
      inner_product_param { num_output: 1 } }
    layer { name: 'loss' type: 'EuclideanLoss' bottom: 'fc' bottom: 'y' top: 'loss' }""")
    solver = tmp_path / "solver.prototxt"
    solver.write_text(f"net: '{net}' base_lr: 0.1 lr_policy: 'fixed' display: 2 max_iter: 6 "
                      f"snapshot_prefix: '{tmp_path}/s' snapshot_after_train: false")
    stream = io.StringIO()
    caffe_compat.get_solver(str(solver), log=stream).solve()
    log = tmp_path / "ours.log"
    log.write_text(stream.getvalue())
    train, test = training_log.parse_log(log)
    assert [r["NumIters"] for r in train] == [0.0, 2.0, 4.0] and test == []
    assert [r["LearningRate"] for r in train] == [0.1] * 3


def test_parse_log_refuses_a_non_log(tmp_path):
    from caffe_compat.errors import CaffeCompatError
    other = tmp_path / "notes.txt"
    other.write_text("nothing here\n")
    with pytest.raises(CaffeCompatError, match="no 'Solving' line"):
        training_log.parse_log(other)


@pytest.mark.parametrize("chart", range(8))
def test_plot_log_chart_types(tmp_path, chart):
    assert training_log.supported_chart_types()[0] == "Test accuracy  vs. Iters"
    assert training_log.supported_chart_types()[7] == "Train loss  vs. Seconds"
    out = tmp_path / "chart.png"
    assert cli.main(["plot-log", str(chart), str(out), str(LOG), str(LOG)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_plot_log_refuses_an_unknown_chart(tmp_path, capsys):
    assert cli.main(["plot-log", "9", str(tmp_path / "x.png"), str(LOG)]) == 1
    assert "0-7" in capsys.readouterr().err


def _dumps(log):
    """The messages Caffe logs with a DebugString: the text after each "Initializing ... from
    parameters:" line up to the next glog line."""
    blocks = re.findall(r"Initializing (?:solver|net) from parameters: \n(.*?)(?=^[IWEF]\d{4})",
                        log, flags=re.S | re.M)
    return [b.rstrip("\n") for b in blocks]


def test_train_logs_caffes_message_dumps(tmp_path, monkeypatch):
    """`caffe train`'s log prints the solver and each net as C++'s DebugString writes them
    (``base_lr: 0.1``, ``std: 1``, no blank line after), as real Caffe's log of the same run
    (fixtures/train_log, written by make_train_log.py)."""
    import importlib.util
    import os
    import subprocess
    import sys
    spec = importlib.util.spec_from_file_location("make_train_log", LOG.with_name(
        "make_train_log.py"))
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    (tmp_path / "net.prototxt").write_text(fixture.NET)
    (tmp_path / "solver.prototxt").write_text(fixture.SOLVER)
    got = subprocess.run([sys.executable, "-m", "caffe_compat.cli", "train", "-solver",
                          "solver.prototxt"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stderr
    want = _dumps(LOG.read_text())
    assert len(want) == 3 and _dumps(got) == want
