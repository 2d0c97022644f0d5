"""``caffe-compat export``: the command writes a checked ONNX / TorchScript file of a deploy net
and its caffemodel, and names the layer and type it cannot convert."""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.cli import main as cli
from tests.caffe_compat.opencv_fixtures.nets import fill_weights, inputs_text, layer
from tests.caffe_compat.public_nets import NETS, build

from tests.caffe_compat.reference import scaled_error

from .helpers import ONNX_TOL, run_onnx, run_ours


def _files(tmp_path, text, seed=1):
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(text)
    net = Net(text, phase="test")
    fill_weights(net, seed)
    weights = tmp_path / "w.caffemodel"
    net.save(str(weights))
    return deploy, weights, net


def test_export_onnx_command(tmp_path, capsys):
    deploy, weights, net = _files(tmp_path, NETS["LeNet"]["build"]())
    out = tmp_path / "lenet.onnx"
    assert cli.main(["export", "-model", str(deploy), "-weights", str(weights), "--format",
                     "onnx", "--out", str(out)]) == 0
    said, progress = capsys.readouterr()
    assert "opset 17, batch free" in said and "onnxruntime vs caffe_compat, prob" in said
    # a long export shows what it is doing on stderr while it runs (stdout keeps the results)
    for stage in ("reading the net and its weights", "writing the ONNX file",
                  "running it on onnxruntime beside our forward"):
        assert f"export: {stage} [" in progress, progress
    x = {"data": np.random.RandomState(0).uniform(0, 1, (3, 1, 28, 28)).astype(np.float32)}
    theirs, ours = run_onnx(out, x, ["prob"]), run_ours(net, x, ["prob"])
    assert np.abs(theirs["prob"] - ours["prob"]).max() <= ONNX_TOL    # probabilities: scale 1


def test_export_torchscript_command(tmp_path):
    deploy, weights, net = _files(tmp_path, NETS["LeNet"]["build"]())
    out = tmp_path / "lenet.pt"
    assert cli.main(["export", "-model", str(deploy), "-weights", str(weights), "--format",
                     "torchscript", "--out", str(out), "--output", "ip2"]) == 0
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        got = torch.jit.load(str(out))(x).numpy()
        ours = net.forward(blobs=["ip2"], data=x)["ip2"].numpy()
    # our own layers, traced: the products may be summed by torch's GEMM instead of Caffe's
    # order (float32 reassociation, ~1e-7 of the scale)
    assert scaled_error(got, ours) <= 1e-5


def test_export_names_the_layer_without_converter(tmp_path, capsys):
    pytest.importorskip("caffe")
    text = inputs_text({"x": (1, 3)}) + layer(
        "py", "Python", ["x"], "python_param { module: 'tests.pycaffe.pylayers' "
        "layer: 'TimesTen' }") + layer("relu", "ReLU", ["py"])
    deploy, weights, _ = _files(tmp_path, text)
    out = tmp_path / "f.onnx"
    status = cli.main(["export", "-model", str(deploy), "-weights", str(weights), "--out",
                       str(out)])
    err = capsys.readouterr().err
    assert status == 1
    assert "layer 'py' (type Python): no ONNX converter" in err, err
    assert "--output" in err                    # the suggestion: export the blobs before it
    assert not out.exists()


def test_export_names_a_data_layer(tmp_path):
    """A net fed by a data layer is refused with the layer, its type and the way out."""
    from caffe_compat.errors import NetError
    from caffe_compat.export import export_onnx
    text = layer("d", "DummyData", [], "dummy_data_param { shape { dim: 2 dim: 3 } }",
                 tops=["x"]) + layer("relu", "ReLU", ["x"])
    with pytest.raises(NetError, match=r"layer 'd' \(type DummyData\) is a data layer.*Input"):
        export_onnx(Net(text, phase="test"), tmp_path / "f.onnx", outputs=["relu"])
    assert not (tmp_path / "f.onnx").exists()
