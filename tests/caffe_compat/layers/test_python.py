"""Python (a layer written in Python) against real Caffe (fixtures/python: a net with a
Python layer owning two blobs, between an InnerProduct and an in-place TanH), through the
engine's autograd route and Caffe's blob-by-blob route (caffe_compat.net.stepwise); and its
rules: setup errors keep their type, missing modules are named, zero-top layers run."""
import pathlib
import sys

import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat import NetError
from caffe_compat.net.stepwise import Stepwise
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

HERE = pathlib.Path(__file__).parent
FIX = HERE / "fixtures" / "python"


@pytest.fixture(autouse=True)
def _module_path(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))      # py_affine, as Caffe finds it on PYTHONPATH


@pytest.fixture(scope="module")
def ref():
    return np.load(FIX / "python.npz")


def _net():
    return caffe_compat.Net(str(FIX / "python_net.prototxt"), str(FIX / "python.caffemodel"),
                            phase="train")


def test_autograd_route_matches_caffe(ref):
    net = _net()
    x = torch.tensor(ref["x"], requires_grad=True)
    net.forward(x=x, t=torch.tensor(ref["t"]))
    for name in ("ip", "aff", "loss"):
        assert np.abs(net.blobs[name].data.detach().numpy() - ref[f"data/{name}"]).max() \
            <= FORWARD_TOL
    net.backward()
    assert np.abs(x.grad.numpy() - ref["diff/x"]).max() <= BACKWARD_TOL
    for (layer, i), key in ((("ip", 0), "ip/0"), (("ip", 1), "ip/1"), (("aff", 0), "aff/0"),
                            (("aff", 1), "aff/1")):
        grad = net.params[layer][i].grad
        assert np.abs(grad.numpy() - ref[f"param_diff/{key}"]).max() <= BACKWARD_TOL


def test_blob_route_matches_caffe(ref):
    net = _net()
    steps = Stepwise(net)
    steps.data["x"].copy_(torch.tensor(ref["x"]))
    steps.data["t"].copy_(torch.tensor(ref["t"]))
    steps.forward()
    steps.backward()
    for name in ("ip", "aff", "loss"):
        assert np.abs(steps.data[name].numpy() - ref[f"data/{name}"]).max() <= FORWARD_TOL
    for name in ("x", "ip", "aff"):                 # diffs as Caffe leaves them in each blob
        assert np.abs(steps.diff_of(name).numpy() - ref[f"diff/{name}"]).max() \
            <= BACKWARD_TOL
    for layer in ("ip", "aff"):
        for i in range(2):
            grad = net.params[layer][i].grad.numpy()
            assert np.abs(grad - ref[f"param_diff/{layer}/{i}"]).max() <= BACKWARD_TOL


def test_blobs_round_trip_through_caffemodels(tmp_path):
    net = _net()
    a = net.params["aff"][0].detach().clone()
    np.testing.assert_allclose(a.numpy(), np.linspace(0.5, 1.5, 6), rtol=1e-6)
    path = tmp_path / "w.caffemodel"
    net.save(str(path))
    with torch.no_grad():
        net.params["aff"][0].zero_()
    net.copy_from(str(path))
    assert torch.equal(net.params["aff"][0].detach(), a)


def test_errors_name_the_layer(tmp_path):
    (tmp_path / "bad_layers.py").write_text(
        "import caffe_compat\n"
        "class Refuses(caffe_compat.PythonLayer):\n"
        "    def setup(self, bottom, top):\n"
        "        raise KeyError('wanted')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        text = ("input: 'x' input_shape { dim: 1 }\n layer { name: 'p' type: 'Python' "
                "bottom: 'x' top: 'y' python_param { module: 'bad_layers' layer: 'Refuses' } }")
        # the layer's own exception, as raised (pycaffe's rule), the layer named in a note
        with pytest.raises(KeyError) as info:
            caffe_compat.Net(text)
        assert type(info.value) is KeyError and info.value.args == ("wanted",)
        assert info.value.python_layer == "p"
        if sys.version_info >= (3, 11):
            assert "in layer 'p' (type Python): Refuses.setup" in info.value.__notes__
        with pytest.raises(NetError, match="needs both 'module' and 'layer'"):
            caffe_compat.Net("input: 'x' input_shape { dim: 1 }\n layer { name: 'p' "
                             "type: 'Python' bottom: 'x' top: 'y' }")
    finally:
        sys.path.remove(str(tmp_path))


def test_zero_top_python_layer_runs(tmp_path):
    (tmp_path / "sink_layers.py").write_text(
        "import caffe_compat\n"
        "seen = []\n"
        "class Sink(caffe_compat.PythonLayer):\n"
        "    def forward(self, bottom, top):\n"
        "        seen.append(float(bottom[0].data.sum()))\n")
    sys.path.insert(0, str(tmp_path))
    try:
        net = caffe_compat.Net("input: 'x' input_shape { dim: 2 }\n layer { name: 's' "
                               "type: 'Python' bottom: 'x' python_param { module: "
                               "'sink_layers' layer: 'Sink' } }")
        net.forward(x=torch.ones(2))
        import sink_layers
        assert sink_layers.seen == [2.0]
    finally:
        sys.path.remove(str(tmp_path))


def test_legacy_dimensions_are_caffes():
    from caffe_compat.layers.python import PythonBlob
    blob = PythonBlob(shape=(16, 3))
    assert (blob.num, blob.channels, blob.height, blob.width) == (16, 3, 1, 1)
    blob.reshape(2, 3, 4, 5)
    assert (blob.num, blob.channels, blob.height, blob.width) == (2, 3, 4, 5)
    assert blob.count == 120 and blob.diff.shape == (2, 3, 4, 5)
