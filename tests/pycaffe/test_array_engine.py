"""pycaffe's nets on the array engine: no torch for a deploy forward, the same values as the
torch engine, and a move to torch (backward, layer objects) that keeps every array live."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import caffe
from caffe_compat.errors import NetError, WeightsError
from caffe_compat.kernels import caffe_products
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not caffe_products.available(),
                                reason="the compiled kernel is not built")

# The torch engine's deploy forward runs oneDNN's convolutions (another summation order than
# Caffe's im2col + OpenBLAS, which the array engine follows): ~1e-6 of a blob's scale; 1e-5 is
# the margin every forward parity test uses.
FORWARD_TOL = 1e-5
# Backward through the same layers after the move: the top diffs are the same, the graphs are
# rebuilt from the same blobs; gradients pass one more reduction per layer (1e-4, as the
# backward fixture tests).
BACKWARD_TOL = 1e-4

NET = """
name: "small"
force_backward: true
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 12 dim: 12 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 6 kernel_size: 3 pad: 1
          weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "norm1" type: "LRN" bottom: "pool1" top: "norm1" lrn_param { local_size: 3 } }
layer { name: "ip" type: "InnerProduct" bottom: "norm1" top: "ip"
        inner_product_param { num_output: 5 weight_filler { type: "xavier" } } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
"""


@pytest.fixture
def deploy(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text(NET)
    return str(path)


def _torch_net(path, monkeypatch):
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", "0")
    net = caffe.Net(path, caffe.TEST)
    monkeypatch.delenv("CAFFE_COMPAT_ARRAY_NET")
    return net


def _same_params(src, dst):
    for name, blobs in src.params.items():
        for a, b in zip(blobs, dst.params[name]):
            b.data[...] = a.data


def _scaled(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def test_a_deploy_forward_never_loads_torch(deploy):
    program = textwrap.dedent(f"""
        import sys
        import numpy as np
        import caffe
        net = caffe.Net({deploy!r}, caffe.TEST)
        net.blobs["data"].reshape(4, 3, 12, 12)
        net.blobs["data"].data[...] = 1.0
        out = net.forward()
        assert out["prob"].shape == (4, 5)
        net.params["conv1"][0].data[...] *= 2
        net.save({deploy + '.caffemodel'!r})
        print([n for n in sys.modules if n == "torch" or n.startswith("torch.")][:3])
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         env=env, cwd=str(REPO), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.cpu_mode
def test_values_are_the_torch_engines(deploy, monkeypatch):
    net = caffe.Net(deploy, caffe.TEST)
    assert net._arrays is not None
    ref = _torch_net(deploy, monkeypatch)
    _same_params(net, ref)
    x = np.random.default_rng(0).normal(size=(2, 3, 12, 12)).astype(np.float32)
    got = net.forward(data=x)["prob"].copy()
    want = ref.forward(data=x)["prob"]
    assert _scaled(got, want) <= FORWARD_TOL
    for name in ("conv1", "pool1", "norm1", "ip"):
        assert _scaled(net.blobs[name].data, ref.blobs[name].data) <= FORWARD_TOL, name


@pytest.mark.cpu_mode
def test_backward_is_the_torch_engines(deploy, monkeypatch):
    net = caffe.Net(deploy, caffe.TEST)
    ref = _torch_net(deploy, monkeypatch)
    _same_params(net, ref)
    x = np.random.default_rng(1).normal(size=(2, 3, 12, 12)).astype(np.float32)
    top = np.random.default_rng(2).normal(size=(2, 5)).astype(np.float32)
    for _ in range(2):                  # parameter diffs accumulate, as in Caffe
        for n in (net, ref):
            n.forward(data=x)
            n.blobs["prob"].diff[...] = top
            n.backward()
    assert net._arrays is not None      # still on the array engine
    for name in ("data", "conv1", "pool1", "norm1", "ip"):
        assert _scaled(net.blobs[name].diff, ref.blobs[name].diff) <= BACKWARD_TOL, name
    for name, blobs in ref.params.items():
        for a, b in zip(net.params[name], blobs):
            assert _scaled(a.diff, b.diff) <= BACKWARD_TOL, name


def test_moving_to_torch_keeps_every_array_live(deploy, monkeypatch):
    """A backward through a layer the array engine cannot take back (here its pooling, made
    to decline) moves the net to torch."""
    from caffe_compat.array_net.layers.pooling import Pooling
    path = deploy
    net = caffe.Net(path, caffe.TEST)
    monkeypatch.setattr(Pooling, "can_backward", lambda self: False)
    ref = _torch_net(path, monkeypatch)
    _same_params(net, ref)
    view = net.blobs["data"]
    data = view.data
    weights = net.params["conv1"][0].data
    x = np.random.default_rng(1).normal(size=data.shape).astype(np.float32)
    data[...] = x
    net.forward()
    top = np.random.default_rng(2).normal(size=(2, 5)).astype(np.float32)
    net.blobs["prob"].diff[...] = top
    net.backward()
    assert net._arrays is None                      # on torch now
    assert net.blobs["data"] is view
    assert np.shares_memory(view.data, data)
    assert np.shares_memory(net.params["conv1"][0].data, weights)
    ref.forward(data=x)
    ref.blobs["prob"].diff[...] = top
    ref.backward()
    assert _scaled(net.blobs["data"].diff, ref.blobs["data"].diff) <= BACKWARD_TOL
    assert _scaled(net.params["conv1"][0].diff, ref.params["conv1"][0].diff) <= BACKWARD_TOL
    # writes through the arrays taken before the move reach the net
    weights *= 0.5
    ref.params["conv1"][0].data[...] *= 0.5
    data[...] = -x
    got = net.forward()["prob"].copy()
    want = ref.forward(data=-x)["prob"]
    assert _scaled(got, want) <= FORWARD_TOL


def test_layer_objects_move_the_net_to_torch(deploy):
    net = caffe.Net(deploy, caffe.TEST)
    before = net.params["ip"][0].data.copy()
    assert [layer.type for layer in net.layers][:2] == ["Input", "Convolution"]
    assert net._arrays is None
    np.testing.assert_array_equal(net.params["ip"][0].data, before)


def test_params_are_blobvecs_of_blobs_with_legacy_dims(deploy, monkeypatch):
    """As pycaffe's: ``type(net.params[name]) is caffe._caffe.BlobVec`` (MobileNet-SSD's
    merge_bn.py picks the layers to fold so) and each blob's num / channels / height / width
    (1 past its last axis), on either engine."""
    for net in (caffe.Net(deploy, caffe.TEST), _torch_net(deploy, monkeypatch)):
        assert all(type(blobs) is caffe._caffe.BlobVec for blobs in net.params.values())
        conv = net.params["conv1"]
        assert len(conv) == len(list(conv)) == 2 and len(conv[:1]) == 1
        assert [(b.num, b.channels, b.height, b.width) for b in conv] == [(6, 3, 3, 3),
                                                                          (6, 1, 1, 1)]
        assert net.params["ip"][0].channels == 6 * 6 * 6
    assert type(net.layers[1].blobs) is caffe._caffe.BlobVec


def test_assigning_a_layer_blob_shares_it_as_pycaffe(deploy, tmp_path):
    """``b.layers[i].blobs[k] = a.layers[i].blobs[k]`` (NHZlX/Merge_bn_Caffe's BN folding):
    pycaffe assigns the shared_ptr, so b reads a's memory from then on, forwards and saves
    it (real pycaffe: the same values); a vector of the array engine's arrays refuses."""
    a, b = caffe.Net(deploy, caffe.TEST), caffe.Net(deploy, caffe.TEST)
    if b._arrays is not None:             # (GPU mode runs the torch engine, which shares)
        with pytest.raises(NetError, match="assign through net.layers"):
            b.params["conv1"][0] = a.params["conv1"][0]
    a.params["conv1"][0].data[...] = 0.25
    b.layers[1].blobs[0] = a.layers[1].blobs[0]
    a.params["conv1"][0].data[...] = 0.5
    np.testing.assert_array_equal(b.params["conv1"][0].data, 0.5)
    b.blobs["data"].data[...] = 1.0
    inner = b.forward(end="conv1")["conv1"][:, :, 1:-1, 1:-1]        # (pad 1: 27 products)
    np.testing.assert_allclose(inner, 0.5 * 27 + 0.1, rtol=1e-6)
    b.save(str(tmp_path / "b.caffemodel"))
    c = caffe.Net(deploy, caffe.TEST, weights=str(tmp_path / "b.caffemodel"))
    np.testing.assert_array_equal(c.params["conv1"][0].data, 0.5)


def test_a_parameter_reshape_is_the_torch_engines(deploy, monkeypatch):
    net, ref = caffe.Net(deploy, caffe.TEST), _torch_net(deploy, monkeypatch)
    _same_params(net, ref)
    for n in (net, ref):
        n.params["conv1"][0].reshape(6, 27)
        assert n.params["conv1"][0].shape == (6, 27)
    np.testing.assert_array_equal(net.params["conv1"][0].data, ref.params["conv1"][0].data)
    assert net._arrays is None
    with pytest.raises(NetError, match="cannot take shape \\(3,\\).*once the net is built"):
        net.params["ip"][0].reshape(3)


def test_weights_and_saving_follow_the_torch_engine(deploy, tmp_path, monkeypatch):
    net = caffe.Net(deploy, caffe.TEST)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] = np.random.default_rng(b.count).normal(size=b.shape)
    net.save(str(tmp_path / "w.caffemodel"))
    again = caffe.Net(deploy, caffe.TEST, weights=str(tmp_path / "w.caffemodel"))
    ref = _torch_net(deploy, monkeypatch)
    ref.copy_from(str(tmp_path / "w.caffemodel"))
    ref.save(str(tmp_path / "t.caffemodel"))
    assert (tmp_path / "w.caffemodel").read_bytes() == (tmp_path / "t.caffemodel").read_bytes()
    for name, blobs in again.params.items():
        for a, b in zip(blobs, net.params[name]):
            np.testing.assert_array_equal(a.data, b.data)


def test_a_file_that_does_not_fit_gets_the_torch_engines_error(deploy, tmp_path):
    other = tmp_path / "other.prototxt"
    other.write_text(NET.replace("num_output: 6", "num_output: 4"))
    caffe.Net(str(other), caffe.TEST).save(str(tmp_path / "other.caffemodel"))
    net = caffe.Net(deploy, caffe.TEST)
    with pytest.raises(WeightsError, match="conv1.*shape mismatch"):
        net.copy_from(str(tmp_path / "other.caffemodel"))


def test_a_layer_name_it_lacks_is_the_same_error(deploy):
    net = caffe.Net(deploy, caffe.TEST)
    with pytest.raises(NetError, match="has no layer 'nope'"):
        net.forward(end="nope")


@pytest.mark.cpu_mode
def test_a_loss_layer_runs_on_arrays_with_its_weight(tmp_path, monkeypatch):
    """An Input-fed SoftmaxWithLoss (loss_weight 2): the loss, the weights of the blobs and the
    diffs as on torch."""
    text = NET.replace('layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }',
                       'layer { name: "lab" type: "Input" top: "label" '
                       'input_param { shape { dim: 2 } } }\n'
                       'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" '
                       'bottom: "label" top: "loss" loss_weight: 2 }')
    path = tmp_path / "loss.prototxt"
    path.write_text(text)
    net = caffe.Net(str(path), caffe.TEST)
    assert net._arrays is not None
    ref = _torch_net(str(path), monkeypatch)
    _same_params(net, ref)
    assert net.blob_loss_weights == ref.blob_loss_weights
    x = np.random.default_rng(3).normal(size=(2, 3, 12, 12)).astype(np.float32)
    label = np.array([1, 4], np.float32)
    got = float(net.forward(data=x, label=label)["loss"])
    want = float(ref.forward(data=x, label=label)["loss"])
    assert abs(got - want) <= FORWARD_TOL * abs(want)
    net.backward()
    ref.backward()
    assert net._arrays is not None
    assert _scaled(net.blobs["data"].diff, ref.blobs["data"].diff) <= BACKWARD_TOL
    net.blobs["label"].data[...] = 7                     # outside the 5 classes
    with pytest.raises(NetError, match="label values must lie in"):
        net.forward()
