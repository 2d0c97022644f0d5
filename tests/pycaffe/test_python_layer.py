"""Python layers through caffe.Net and caffe.SGDSolver: every behaviour of pycaffe's
test_python_layer.py and test_python_layer_with_param_str.py, and training parity of a
Python EuclideanLoss with the built-in one."""
import sys

import numpy as np
import pytest

import caffe
from caffe_compat import errors as caffe_errors

MOD = "tests.pycaffe.pylayers"


def _py(name, cls, bottom=None, top=None, param_str=None):
    b = f"bottom: '{bottom}' " if bottom else ""
    t = f"top: '{top or name}' "
    p = f"param_str: '{param_str}' " if param_str is not None else ""
    return (f"layer {{ type: 'Python' name: '{name}' {b}{t}"
            f"python_param {{ module: '{MOD}' layer: '{cls}' {p}}} }}\n")


HEAD = "name: 'pythonnet' force_backward: true\ninput: 'data' input_shape { dim: 10 dim: 9 dim: 8 }\n"
THREE = HEAD + _py("one", "TimesTen", "data") + _py("two", "TimesTen", "one") + \
    _py("three", "TimesTen", "two")


@pytest.fixture
def three(net_file):
    return caffe.Net(net_file(THREE), caffe.TRAIN)


def test_python_is_a_layer_type():
    assert "Python" in caffe.layer_type_list()


def test_forward(three):
    three.blobs["data"].data[...] = 8
    three.forward()
    assert set(three.blobs["three"].data.flat) == {8 * 10 ** 3}


def test_backward(three):
    three.blobs["three"].diff[...] = 7
    three.backward()
    assert set(three.blobs["data"].diff.flat) == {7 * 10 ** 3}


def test_reshape(three):
    three.blobs["data"].reshape(4, 4, 4, 4)
    three.forward()
    for blob in three.blobs.values():
        assert blob.data.shape == (4, 4, 4, 4)


def test_exception_in_setup_keeps_its_type(net_file):
    path = net_file(HEAD + _py("layer", "FailingSetup", "data", "top"))
    # pycaffe lets the layer's own exception through, as it was raised; a note names the
    # layer in its traceback
    with pytest.raises(RuntimeError, match="refuses") as info:
        caffe.Net(path, caffe.TEST)
    assert type(info.value) is RuntimeError and info.value.python_layer == "layer"
    if sys.version_info >= (3, 11):
        assert any("in layer 'layer' (type Python)" in n for n in info.value.__notes__)


def test_missing_module_or_class_is_named(net_file):
    from caffe_compat.errors import NetError
    text = HEAD + "layer { type: 'Python' name: 'l' bottom: 'data' top: 't' " \
        "python_param { module: 'no_such_module_here' layer: 'X' } }"
    with pytest.raises(NetError, match="no_such_module_here.*sys.path"):
        caffe.Net(net_file(text), caffe.TEST)
    with pytest.raises(NetError, match="has no class 'Nope'"):
        caffe.Net(net_file(HEAD + _py("l", "Nope", "data", "t")), caffe.TEST)


def test_own_parameter(net_file, tmp_path):
    path = net_file(HEAD + _py("layer", "OwnParameter", "data", "top"))
    net = caffe.Net(path, caffe.TRAIN)
    net.forward()
    net.backward()
    layer = net.layers[list(net._layer_names).index("layer")]
    assert layer.blobs[0].data[0] == 0
    assert layer.blobs[0].diff[0] == 1
    layer.blobs[0].data[0] += layer.blobs[0].diff[0]
    assert layer.blobs[0].data[0] == 1
    weights = str(tmp_path / "p.caffemodel")                # saved and copied back
    net.save(weights)
    layer.blobs[0].data[0] = -1
    assert layer.blobs[0].data[0] == -1
    net.copy_from(weights)
    assert layer.blobs[0].data[0] == 1
    other = caffe.Net(path, caffe.TRAIN)                   # weight sharing
    other.share_with(net)
    assert other.layers[list(other._layer_names).index("layer")].blobs[0].data[0] == 1


def test_parameter_blobs_reshape_as_caffes(net_file):
    """Caffe's Blob::Reshape on a Python layer's own blobs: a new count in setup (zeros where
    the blob grew), the same count under another shape in forward and backward (the same
    values, seen flattened or not); a new count once the net is built is refused."""
    text = (HEAD + "input: 'other' input_shape { dim: 10 dim: 9 dim: 8 }\n"
            + _py("layer", "ReshapedWeights", "data", "top").replace(
                "bottom: 'data' ", "bottom: 'data' bottom: 'other' "))
    net = caffe.Net(net_file(text), caffe.TRAIN)
    blob = net.params["layer"][0]
    assert blob.shape == (4,) and blob.data.tolist() == [1, 2, 3, 4]
    net.blobs["data"].data[...] = 1
    net.blobs["other"].data[...] = 2
    top = net.forward()["top"]
    np.testing.assert_array_equal(top, 1 * 1 + 3 * 2)            # weights 1 and 3
    net.blobs["top"].diff[...] = 1
    net.backward()
    assert blob.diff.tolist() == [720, 0, 1440, 0]                # 720 items of 1, of 2
    blob.reshape(2, 2)                                            # pycaffe's Blob.reshape
    assert blob.data.tolist() == [[1, 2], [3, 4]] and blob.diff.shape == (2, 2)
    with pytest.raises(caffe_errors.NetError, match="once the net is built"):
        blob.reshape(5)


def test_phase(net_file):
    path = net_file("name: 'p' force_backward: true\n" + _py("layer", "PhaseOut", top="phase"))
    for phase in (caffe.TRAIN, caffe.TEST):
        assert caffe.Net(path, phase).forward()["phase"] == phase


PARAM_STR = HEAD + _py("mul10", "ScaleByParamStr", "data", param_str="10") + \
    _py("mul2", "ScaleByParamStr", "mul10", param_str="2")


def test_param_str_forward_backward(net_file):
    net = caffe.Net(net_file(PARAM_STR), caffe.TRAIN)
    net.blobs["data"].data[...] = 8
    net.forward()
    assert set(net.blobs["mul2"].data.flat) == {2 * 10 * 8}
    net.blobs["mul2"].diff[...] = 7
    net.backward()
    assert set(net.blobs["data"].diff.flat) == {2 * 10 * 7}


def test_python_layer_in_the_engine_too(net_file):
    # caffe_compat.Net builds and differentiates the same net (autograd through the layer)
    import torch

    import caffe_compat
    net = caffe_compat.Net(net_file(PARAM_STR), phase="train")
    x = torch.full((10, 9, 8), 3.0, requires_grad=True)
    out = net.forward(data=x)["mul2"]
    assert torch.all(out == 60)
    out.backward(torch.ones_like(out))
    assert torch.all(x.grad == 20)


# ---- training: a Python EuclideanLoss against the built-in one
def _regression_net(loss):
    if loss == "python":
        loss_layer = ("layer { type: 'Python' name: 'loss' bottom: 'pred' bottom: 'target' "
                      f"top: 'loss' python_param {{ module: '{MOD}' "
                      "layer: 'EuclideanLossLayer' } loss_weight: 1 }")
    else:
        loss_layer = ("layer { type: 'EuclideanLoss' name: 'loss' bottom: 'pred' "
                      "bottom: 'target' top: 'loss' }")
    return f"""name: 'regression'
layer {{ type: 'Python' name: 'data' top: 'x' top: 'target'
  python_param {{ module: '{MOD}' layer: 'BatchFeeder'
                  param_str: "{{'batch_size': 16, 'dim': 6, 'seed': 4}}" }} }}
layer {{ type: 'InnerProduct' name: 'hidden' bottom: 'x' top: 'hidden'
  inner_product_param {{ num_output: 8 weight_filler {{ type: 'gaussian' std: 0.3 }}
                         bias_filler {{ type: 'constant' value: 0.1 }} }} }}
layer {{ type: 'TanH' name: 'act' bottom: 'hidden' top: 'hidden' }}
layer {{ type: 'InnerProduct' name: 'pred' bottom: 'hidden' top: 'pred'
  inner_product_param {{ num_output: 1 weight_filler {{ type: 'gaussian' std: 0.3 }} }} }}
{loss_layer}
"""


def _train(tmp_path, loss, iters=20):
    net = tmp_path / f"{loss}.prototxt"
    net.write_text(_regression_net(loss))
    solver = tmp_path / f"{loss}_solver.prototxt"
    solver.write_text(f"net: '{net}' base_lr: 0.05 momentum: 0.9 weight_decay: 0.001 "
                      "lr_policy: 'fixed' max_iter: 100 display: 0 snapshot: 0 "
                      f"snapshot_prefix: '{tmp_path}/{loss}'")
    caffe.set_random_seed(11)
    s = caffe.SGDSolver(str(solver))
    losses = []
    for _ in range(iters):
        s.step(1)
        losses.append(float(s.net.blobs["loss"].data.flat[0]))
    return s, losses


def test_python_euclidean_loss_trains_as_the_builtin(tmp_path):
    py, py_losses = _train(tmp_path, "python")
    builtin, builtin_losses = _train(tmp_path, "builtin")
    assert py.iter == builtin.iter == 20
    assert py_losses[-1] < 0.5 * py_losses[0]          # it learns
    # the acceptance tolerance: both losses compute sum((a-b)^2)/(2N) in float32 (numpy vs
    # torch reductions may differ in the last bit); 20 SGD steps keep that below 1e-6
    np.testing.assert_allclose(py_losses, builtin_losses, rtol=1e-5, atol=1e-6)
    for name in ("hidden", "pred"):
        for a, b in zip(py.net.params[name], builtin.net.params[name]):
            np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-6)


def test_engine_solver_trains_python_layers_as_the_pycaffe_solver(tmp_path):
    # the same net (Python data layer, a Python layer with learnable blobs, Python loss)
    # trained by caffe_compat's solver (autograd through the Python layers) and by
    # caffe.SGDSolver (Caffe's blob-by-blob backward)
    import caffe_compat
    net = tmp_path / "net.prototxt"
    net.write_text(_regression_net("python").replace(
        "layer {{ type: 'TanH'".replace("{{", "{"),
        f"layer {{ type: 'Python' name: 'aff' bottom: 'hidden' top: 'hidden2' python_param "
        f"{{ module: 'tests.caffe_compat.layers.py_affine' layer: 'Affine' param_str: '0.5' }} }}\n"
        "layer { type: 'TanH'").replace("bottom: 'hidden' top: 'hidden' }",
                                        "bottom: 'hidden2' top: 'hidden2' }").replace(
        "name: 'pred' bottom: 'hidden'", "name: 'pred' bottom: 'hidden2'"))
    solver = tmp_path / "solver.prototxt"
    solver.write_text(f"net: '{net}' base_lr: 0.05 momentum: 0.9 lr_policy: 'fixed' "
                      f"max_iter: 100 display: 0 snapshot_prefix: '{tmp_path}/s'")
    caffe.set_random_seed(3)
    ours = caffe.SGDSolver(str(solver))
    caffe.set_random_seed(3)
    engine = caffe_compat.get_solver(str(solver))
    ours.step(10)
    engine.step(10)
    # float32 updates of the same gradients, reduced in other orders by autograd
    for name in ("hidden", "aff", "pred"):
        for a, b in zip(ours.net.params[name], engine.net.params[name]):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(ours.net.params["aff"][0].data - np.linspace(0.5, 1.5, 8)).max() > 1e-3
