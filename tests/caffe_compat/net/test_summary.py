"""Net::Init's report (log lines, blob shapes, memory) against real Caffe's logs; FLOPs."""
import pathlib
import re

import pytest

import lq_models
from caffe_compat.net.core import Net
from caffe_compat.net.summary import (format_net_summary, layer_reports, log_net_init,
                                      net_totals)
from caffe_compat.diagnostics.glog import SolverLog
from tests.conftest import fixture_path

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "net_init_log"
_GLOG_HEAD = re.compile(r"^I\S+ \S+ +\d+ ")


def _ours(net):
    log = SolverLog(keep=True)
    log_net_init(net, log)
    return [_GLOG_HEAD.sub("", line) for line in log.lines]


def _fixture_blocks():
    blocks, cur = {}, None
    for line in (FIXTURE / "caffe_time_init.txt").read_text().splitlines():
        if line.startswith("# phase"):
            cur = blocks.setdefault(line.split()[-1], [])
        else:
            cur.append(line)
    return blocks


@pytest.mark.parametrize("phase", ["TRAIN", "TEST"])
def test_init_lines_equal_real_caffe(phase):
    """Splits, in-place tops, a shared parameter, lr_mult 0, propagate_down, a loss weight
    moved onto a split, branches feeding no loss: every net.cpp / layer_factory.hpp line of
    real Caffe's `caffe time` (fixture written by make_fixture.sh), in order."""
    expected = _fixture_blocks()[phase]
    assert _ours(Net(str(FIXTURE / "net.prototxt"), phase=phase.lower())) == expected


def _caffe_log_blocks(path):
    """The Net::Init lines of each net a real Caffe training log builds (train, then test)."""
    blocks, cur = [], None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^I\S+ \S+ +\d+ ((net\.cpp|layer_factory\.hpp):(\d+)\] .*)$",
                     line.rstrip("\n"))
        if not m or m.group(3) in ("53", "296", "746"):
            continue
        if cur is None:
            cur = []
            blocks.append(cur)
        cur.append(m.group(1))
        if m.group(3) == "257":
            cur = None
    return blocks


@pytest.mark.parametrize("run", ["vlqr_from_sr", "sr_pretrain", "cnnd_sgd_step"])
def test_init_lines_of_real_training_logs(run, monkeypatch):
    folder = fixture_path("caffe-reference", "train", run)
    monkeypatch.chdir(folder)            # the nets' HDF5 lists are relative, as Caffe reads them
    blocks = _caffe_log_blocks(folder / "caffe.log")
    assert blocks
    for block, phase in zip(blocks, ["train", "test"]):
        assert _ours(Net("net.prototxt", phase=phase)) == block


def test_cnnd_costs_and_table():
    """The CNN+D deploy net: 1.23 GFLOP per 96x96 face (2 per multiply-add of the convolutions
    and inner products, the figure docs/reproduction.md uses), its parameters and Caffe's
    memory count."""
    net = Net(str(lq_models.get("hr").deploy_path), phase="test")
    reports = layer_reports(net)
    by_name = {r.name: r for r in reports}
    macs = {"conv1": 92 * 92 * 64 * 25, "conv2": 42 * 42 * 128 * 64 * 25,
            "conv3": 17 * 17 * 256 * 128 * 25, "fc4": 300 * 6400, "fc5": 300}
    outs = {"conv1": 92 * 92 * 64, "conv2": 42 * 42 * 128, "conv3": 17 * 17 * 256,
            "fc4": 300, "fc5": 1}
    for name, m in macs.items():
        assert by_name[name].flops == 2 * m + outs[name]          # + one add per bias
    assert by_name["pool1"].flops == 46 * 46 * 64 * 4
    params, flops, memory = net_totals(reports)
    assert params == 64 * 26 + 128 * 1601 + 256 * 3201 + 300 * 6401 + 301
    assert round(sum(2 * m for m in macs.values()) / 1e9, 2) == 1.23
    batch = reports[0].top_shapes[0][0]
    assert memory == 4 * sum(_count(s) for r in reports for s in r.top_shapes)
    assert by_name["relu1"].top_bytes == 4 * batch * 64 * 92 * 92    # in-place counted again
    table = format_net_summary(net, reports, source="deploy.prototxt")
    assert "conv2" in table and "128x64x5x5" in table and f"{params:,} parameters" in table
    assert "GFLOP per forward pass" in table.splitlines()[0]


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _tool_messages(err):
    return [_GLOG_HEAD.sub("", line) for line in err.splitlines() if _GLOG_HEAD.match(line)]


def test_time_and_test_logs_carry_net_init_lines(capsys, tmp_path):
    """issue: the train/test/time logs lacked Caffe's "Top shape" / "Memory required for data"
    lines that users and log parsers read; `caffe time` writes the same block real Caffe
    writes (fixture), rule lines and all."""
    from caffe_compat.cli.main import main
    assert main(["time", "-model", str(FIXTURE / "net.prototxt"), "-iterations", "1"]) == 0
    msgs = _tool_messages(capsys.readouterr().err)
    ours = [m for m in msgs if m.startswith(("net.cpp:", "layer_factory.hpp:"))
            and not m.startswith(("net.cpp:53]", "net.cpp:296]"))]
    assert ours == _fixture_blocks()["TRAIN"]
    # a TEST-only layer (time runs the TRAIN phase): FilterNet's rule line
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(lq_models.get("hr").deploy_path.read_text() + 'layer { name: "Silence"  '
                      'type: "Silence"  bottom: "fc5"  include { phase: TEST } }\n')
    assert main(["time", "-model", str(deploy), "-iterations", "1"]) == 0
    msgs = _tool_messages(capsys.readouterr().err)
    assert ("net.cpp:296] The NetState phase (0) differed from the phase (1) specified by a "
            "rule in layer Silence") in msgs
    assert "net.cpp:131] Top shape: 1 64 92 92 (541696)" in msgs


def test_training_log_carries_init_lines_of_train_and_test_nets(tmp_path, monkeypatch):
    from caffe_compat import get_solver
    from tests.small_training import make_small
    monkeypatch.chdir(make_small(tmp_path))
    log = SolverLog(keep=True)
    get_solver("solver.prototxt", log=log)
    msgs = [_GLOG_HEAD.sub("", line) for line in log.lines]
    done = [i for i, m in enumerate(msgs) if m == "net.cpp:257] Network initialization done."]
    assert len(done) == 2                                   # the train net, then the test net
    train = msgs[:done[0]]
    assert "net.cpp:131] Top shape: 6 4 4 4 (384)" in train
    assert any(m.startswith("net.cpp:139] Memory required for data: ") for m in train)
    assert "net.cpp:131] Top shape: 5 4 4 4 (320)" in msgs[done[0]:]
