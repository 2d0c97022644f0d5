"""The PyTorch export: generated torch-only source against caffe_compat.Net, every emitted type
in the geometries where Caffe differs from torch, the package written, errors, the command.

Every figure is ``max |a - b| / max |b|`` from :mod:`caffe_compat.export.pytorch.check`,
whose bounds (1e-5 for outputs in float32, 1e-4 for gradients, compared in float64) are the
promise; the check runs the module in a ``python -I`` process that cannot import caffe_compat.
"""
import ast
import os
import stat

import pytest
import torch

from caffe_compat import Net
from caffe_compat.errors import NetError
from caffe_compat.export import emitter_types, export_pytorch
from tests.caffe_compat.opencv_fixtures.nets import fill_weights, inputs_text, layer
from tests.caffe_compat.public_nets import NETS

from . import nets

pytest.importorskip("safetensors")


def _net(text, seed=3):
    net = Net(text, phase="test")
    fill_weights(net, seed)
    return net


def _assert_passed(report):
    assert report["ok"], report["failures"]
    for batch in (1, 3):
        # the check's own bounds, restated: float32 outputs 1e-5 of their scale
        assert max(report["outputs"][batch].values()) <= 1e-5, report
        # float64 gradients of the same function: 1e-4 of the scale
        assert report["param_grads"][batch][0] <= 1e-4, report
        assert report["input_grads"][batch][0] <= 1e-4, report


def test_lenet_package(tmp_path):
    text = nets.FORCE + NETS["LeNet"]["build"]()
    deploy = tmp_path / "lenet.prototxt"
    deploy.write_text(text)
    net = _net(text)
    out = tmp_path / "lenet"
    report = export_pytorch(net, out, model=deploy, preprocessing={"scale": "1/256"})
    _assert_passed(report)
    assert report["input_grads"][1][1] == "data"        # the input gradient was compared
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "model.py",
                                                     "weights.safetensors"]
    source = (out / "model.py").read_text()
    tree = ast.parse(source)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom)}
    # torch only (safetensors inside load(), where weights.safetensors is read)
    assert imported == {"math", "os", "torch", "safetensors"}, imported
    assert "self.conv1 = nn.Conv2d(1, 20, kernel_size=(5, 5))" in source
    assert "pool1 = max_pool(conv1, (2, 2), stride=(2, 2))" in source
    card = (out / "README.md").read_text()
    assert f"sha256 `{__import__('hashlib').sha256(text.encode()).hexdigest()}`" in card
    assert "scale: 1/256" in card and "Result: passed." in card
    # weights_only-safe: the safetensors file loads without pickle
    from safetensors.torch import load_file
    state = load_file(str(out / "weights.safetensors"))
    assert torch.equal(state["conv1.weight"], net.layer("conv1").weight.detach())


CASES = {"conv": nets.conv_net, "shape": nets.shape_net, "elementwise": nets.elementwise_net,
         "misc": nets.misc_net, "data": nets.data_net,
         "recurrent": nets.recurrent_net,
         "recurrent, exposed states": lambda: nets.recurrent_net(expose=True)}


QUICK = {"conv", "data"}
CHECK_INPUTS = {"data": nets.data_net_inputs}


@pytest.mark.parametrize("case", [pytest.param(k, marks=() if k in QUICK else pytest.mark.slow)
                                  for k in CASES])
def test_emitted_types(case, tmp_path):
    """The types the export covers, in Caffe's awkward geometries, at batch 1 and 3."""
    net = _net(CASES[case](), seed=len(case))
    inputs = CHECK_INPUTS[case]() if case in CHECK_INPUTS else None
    report = export_pytorch(net, tmp_path / "net", pth=case == "conv", check_inputs=inputs)
    assert report["ok"], report["failures"]
    for batch in (1, 3):
        assert max(report["outputs"][batch].values()) <= 1e-5, report    # the promise
        assert report["param_grads"][batch][0] <= 1e-4, report           # the promise
    if case == "conv":
        assert (tmp_path / "net" / "weights.pth").exists()


def test_every_emitter_is_exercised():
    from tests.caffe_compat.opencv_fixtures import ssd_nets
    seen = {"Input"}
    # the detection types: test_detection.py (the small SSD, Faster R-CNN, R-FCN)
    texts = [build() for build in CASES.values()] + [
        nets.detection_net(), ssd_nets.faster_rcnn_text(), ssd_nets.rfcn_text()]
    for text in texts:
        seen |= {node.type for node in Net(text, phase="test").graph.layers}
    # one name of a pair registered together is enough (ConvolutionDepthwise, NormalizeBBox)
    missing = set(emitter_types()) - seen - {"NormalizeBBox", "PriorBoxClustered"}
    assert not missing, missing


@pytest.mark.slow
def test_inner_blob_and_alias_outputs(tmp_path):
    """Requested inner blobs come back by their Caffe names, an in-place blob with the value
    Caffe leaves in it."""
    net = _net(nets.shape_net())
    report = export_pytorch(net, tmp_path / "o", outputs=["s0", "resh", "cat", "cat2"])
    assert report["ok"], report["failures"]
    assert set(report["outputs"][3]) == {"s0", "resh", "cat", "cat2"}


def test_type_without_emitter_names_the_layer(tmp_path, monkeypatch):
    from caffe_compat.export.pytorch import registry
    monkeypatch.delitem(registry._EMITTERS, "ArgMax")     # a type nobody wrote an emitter for
    text = inputs_text({"x": (1, 3, 4, 4)}) + layer("am", "ArgMax", ["x"],
                                                    "argmax_param { top_k: 1 }")
    with pytest.raises(NetError, match=r"layer 'am' \(type ArgMax\): no PyTorch emitter"):
        export_pytorch(Net(text, phase="test"), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_every_converter_type_has_an_emitter():
    from caffe_compat.export import converter_types
    assert set(converter_types()) <= set(emitter_types())


def test_stochastic_pyramid_pooling_names_the_layer(tmp_path):
    text = inputs_text({"x": (1, 3, 8, 8)}) + layer("spp", "SPP", ["x"],
                                                    "spp_param { pyramid_height: 2 "
                                                    "pool: STOCHASTIC }")
    with pytest.raises(NetError, match=r"layer 'spp' \(type SPP\): STOCHASTIC"):
        export_pytorch(Net(text, phase="test"), tmp_path / "x")


def test_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    from caffe_compat.errors import CaffeCompatError
    with pytest.raises(CaffeCompatError, match="not a PyTorch export"):
        export_pytorch(_net(NETS["LeNet"]["build"]()), tmp_path, check=False)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_package_takes_the_users_umask(tmp_path, umask):
    """The folder and its files get the modes a plain mkdir and open() would give (0777 and
    0666 less the umask), not mkdtemp's private 0700 or safetensors' 0600: what is exported
    is shipped to other users, web servers and containers."""
    out = tmp_path / "pkg"
    old = os.umask(umask)
    try:
        export_pytorch(_net(NETS["LeNet"]["build"]()), out, check=False, pth=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "model.py", "weights.pth", "weights.safetensors"]
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, p.name


@pytest.mark.slow
def test_export_pytorch_command(tmp_path, capsys):
    from caffe_compat.cli import main as cli
    text = NETS["LeNet"]["build"]()
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(text)
    weights = tmp_path / "w.caffemodel"
    _net(text).save(str(weights))
    out = tmp_path / "lenet_torch"
    assert cli.main(["export", "-model", str(deploy), "-weights", str(weights), "--format",
                     "pytorch", "--out", str(out), "--pth", "--preprocess",
                     "channel_order=gray"]) == 0
    said = capsys.readouterr().out
    assert "generated module vs caffe_compat, batch 3, prob" in said
    assert (out / "weights.pth").exists()
    card = (out / "README.md").read_text()
    assert "w.caffemodel" in card and "channel_order: gray" in card


def test_the_check_catches_a_wrong_emitter(tmp_path):
    """An emitter that computes something else than Caffe (a ReLU written as a sigmoid) fails
    the check, and the folder is not written."""
    from caffe_compat.export.pytorch import ExportCheckError
    from caffe_compat.export.pytorch.emitters import neuron
    from caffe_compat.export.pytorch.registry import register_emitter
    text = inputs_text({"x": (1, 3, 6, 6)}) + layer(
        "conv", "Convolution", ["x"], "convolution_param { num_output: 4 kernel_size: 3 }") + \
        layer("relu", "ReLU", ["conv"], tops=["conv"])
    register_emitter("ReLU", replace=True)(lambda e: f"torch.sigmoid({e.bottoms[0]})")
    try:
        with pytest.raises(ExportCheckError, match="batch 1, output conv"):
            export_pytorch(_net(text), tmp_path / "wrong", autocast=False)
    finally:
        register_emitter("ReLU", replace=True)(neuron.relu)
    assert not (tmp_path / "wrong").exists()
    assert not list(tmp_path.iterdir())         # the staged folder is gone too
