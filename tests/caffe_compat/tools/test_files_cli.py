"""caffe-compat inspect | upgrade | convert, as a user runs them."""
import numpy as np
import pytest

from caffe_compat.cli.main import main
from caffe_compat.io.caffemodel import read_caffemodel
from caffe_compat.io.prototxt import read_net
from tests.conftest import REPO, fixture_path, public_input

DEPLOY = str(REPO / "prototxt" / "cnnd_deploy.prototxt")


def test_inspect_names_the_architecture_and_checks_a_net(capsys):
    w = str(fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel"))
    assert main(["inspect", w, "-model", DEPLOY]) == 0
    out = capsys.readouterr().out
    assert "2,946,649 parameters" in out
    assert "detected architecture: CNN+D regressor, 96x96 input" in out
    assert "fits the net definition" in out


def test_inspect_refuses_a_mismatched_net(capsys):
    w = str(fixture_path("caffe-reference", "train", "sr_pretrain", "init.caffemodel"))
    assert main(["inspect", w, "--model", DEPLOY]) == 1
    err = capsys.readouterr().err
    assert "do not fit" in err and "'fc4'" in err


def test_upgrade_legacy_deploy_prototxt(tmp_path):
    src = str(public_input("original", "deploy", "SRCNN_net.prototxt"))
    dst = tmp_path / "up.prototxt"
    assert main(["upgrade", src, str(dst)]) == 0
    net = read_net(str(dst), upgrade=False)
    assert net.layer[0].type == "Input" and list(net.layer[0].top) == ["data", "label"]
    assert not len(net.input) and not len(net.input_dim)


def test_convert_round_trip_is_bit_exact(tmp_path):
    w = str(fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel"))
    pt, back = tmp_path / "w.pt", tmp_path / "w.caffemodel"
    assert main(["convert", w, str(pt)]) == 0
    assert main(["convert", str(pt), str(back), "-model", DEPLOY]) == 0
    a, b = read_caffemodel(w), read_caffemodel(str(back))
    for la, lb in zip([l for l in a.layer if len(l.blobs)], [l for l in b.layer if len(l.blobs)]):
        assert la.name == lb.name
        for x, y in zip(la.blobs, lb.blobs):
            # tolerance 0: float32 values copied, never recomputed
            assert np.array_equal(np.array(x.data, np.float32), np.array(y.data, np.float32))


def test_convert_to_caffemodel_needs_the_net(tmp_path, capsys):
    w = str(fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel"))
    assert main(["convert", w, str(tmp_path / "w.pt")]) == 0
    assert main(["convert", str(tmp_path / "w.pt"), str(tmp_path / "x.caffemodel")]) == 1
    assert "-model" in capsys.readouterr().err
    assert not (tmp_path / "x.caffemodel").exists()


@pytest.mark.parametrize("bad", [b"", b"\x08\x96\x01garbage\xff\xff", b"layer { name: 'x' }"])
def test_inspect_bad_files_fail_cleanly(tmp_path, capsys, bad):
    f = tmp_path / "bad.caffemodel"
    f.write_bytes(bad)
    assert main(["inspect", str(f)]) == 1
    assert str(f) in capsys.readouterr().err


def test_upgrade_recognises_a_solver_file(tmp_path, capsys):
    # issue: `upgrade` read every text file as a NetParameter ("unknown field 'net'")
    src = tmp_path / "old_solver.prototxt"
    src.write_text('net: "train_val.prototxt"\nbase_lr: 0.01  # comment: layer\n'
                   'solver_type: ADAM\nsolver_mode: CPU\n')
    dst = tmp_path / "new_solver.prototxt"
    assert main(["upgrade", str(src), str(dst)]) == 0
    text = dst.read_text()
    assert 'type: "Adam"' in text and "solver_type" not in text
    assert main(["upgrade", str(REPO / "prototxt" / "cnnd_solver.prototxt"),
                 str(tmp_path / "same.prototxt")]) == 0
    assert "already in latest proto format" in capsys.readouterr().err


def test_a_solver_given_as_a_net_is_named_as_such(tmp_path, capsys):
    src = tmp_path / "solver.prototxt"
    src.write_text('net: "train_val.prototxt"\nbase_lr: 0.01\n')
    assert main(["time", "-model", str(src)]) == 1
    err = capsys.readouterr().err
    assert "looks like a solver file" in err and "allow_unknown_fields" not in err


def test_inspect_a_prototxt_shows_shapes_params_flops_memory(capsys):
    # issue: `inspect model.prototxt` refused text files; no command showed blob shapes
    assert main(["inspect", DEPLOY]) == 0
    out = capsys.readouterr().out
    assert "2,946,649 parameters" in out and "phase TEST" in out
    row = next(l.split() for l in out.splitlines() if l.split()[:2] == ["conv1", "Convolution"])
    # 64 filters of 1x5x5 on a 92x92 output: 2 FLOPs per multiply-add, 1 per bias add
    assert row[5] == "1x64x92x92" and row[6] == "1,664"
    assert row[-2] == f"{2 * 64 * 92 * 92 * 25 + 64 * 92 * 92:,}"
    assert row[-1] == f"{64 * 92 * 92 * 4:,}"
    assert "memory required for data 7,565,332 bytes" in out


def test_inspect_a_caffemodel_prints_per_layer_flops(tmp_path, capsys):
    from caffe_compat import Net
    w = tmp_path / "w.caffemodel"
    Net(DEPLOY).save(str(w))
    assert main(["inspect", str(w)]) == 0
    out = capsys.readouterr().out
    assert "the net stored in the caffemodel" in out
    assert "1,229,511,133 FLOPs" in out
    assert main(["inspect", str(w), "-model", DEPLOY, "-phase", "test"]) == 0
    assert "1,229,511,133 FLOPs" in capsys.readouterr().out


def _training_snapshot(path):
    """A caffemodel as a training snapshot stores its net: the TRAIN phase's layers (the
    HDF5Data layer with ``include { phase: TRAIN }``), each saying ``phase: TRAIN``."""
    from caffe_compat import Net
    Net("examples/quickstart/train_val.prototxt", phase="train").save(str(path))
    layers = read_caffemodel(str(path)).layer
    assert {lp.phase for lp in layers} == {0}                    # TRAIN
    assert layers[0].type == "HDF5Data" and layers[0].include[0].phase == 0


def test_inspect_a_training_snapshot_builds_its_stored_net_in_train(tmp_path, capsys,
                                                                   monkeypatch):
    # issue: the stored net of a snapshot "cannot be built (unknown bottom blob 'data')": it was
    # built in TEST, which drops the data layer that only TRAIN includes
    monkeypatch.chdir(REPO)                 # the data layer's list file is relative, as Caffe's
    w = tmp_path / "quickstart_iter_50.caffemodel"
    _training_snapshot(w)
    assert main(["inspect", str(w)]) == 0
    out = capsys.readouterr().out
    assert "cannot be built" not in out and "phase TRAIN" in out
    report = out[out.index("the net stored in the caffemodel"):]
    rows = {l.split()[0]: l.split() for l in report.splitlines() if l.startswith("  ")}
    assert rows["data"][1:6] == ["HDF5Data", "->", "data,", "label", "16x1x8x8;"]
    assert rows["conv1"][5] == "16x8x6x6"
    # asked for TEST: the stored net has no TEST data layer, which the message says
    assert main(["inspect", str(w), "-phase", "TEST"]) == 0
    assert "unknown bottom blob 'data'" in capsys.readouterr().out


def test_the_stored_phase_is_the_one_its_layers_say():
    from caffe_compat.proto import caffe_pb2
    from caffe_compat.tools.files import stored_phase
    net = caffe_pb2.NetParameter()
    assert stored_phase(net) is None
    net.layer.add(name="a", phase=caffe_pb2.TEST)
    net.layer.add(name="b")
    assert stored_phase(net) == "TEST"
    net.layer.add(name="c", phase=caffe_pb2.TRAIN)
    assert stored_phase(net) is None                 # mixed: no single phase
