"""The rules of :mod:`caffe_compat.rules` and the engines that read them: Convolution's output
length by Caffe's C division in every engine, what Pooling refuses on every path, the PyTorch
source of a convolution whose kernel is longer than its padded input."""
import subprocess
import sys

import numpy as np
import pytest

from caffe_compat.errors import NetError
from caffe_compat.io.prototxt import parse_net
from caffe_compat.rules.convolution import convolution_rule
from caffe_compat.rules.pooling import pooled_size, pooling_rule
from caffe_compat.rules.spatial import window_count
from tests.conftest import REPO

# float32 sums of at most 75 products in another order than the reference's: a few roundings
# of 6e-8 of the partial sums, far below 1e-5 of the output's scale
ENGINE_TOL = 1e-5

# a 5x5 window with stride 2 over a 4x6 input: (4 - 5) / 2 + 1 truncates to 1 (Caffe's C
# division), where a floor gives 0; and (6 - 5) / 2 + 1 = 1
LONG_KERNEL = """name: "long"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 5 stride: 2
                            weight_filler { type: "uniform" min: -0.5 max: 0.5 }
                            bias_filler { type: "constant" value: 0.25 } } }
"""


def _layer(net_text, name):
    return next(lp for lp in parse_net(net_text).layer if lp.name == name)


def test_window_count_truncates_toward_zero():
    assert window_count(4, 0, 5, 2) == 1          # span -1: C gives 0, floor gives -1
    assert window_count(4, 0, 7, 2) == 0          # span -3: -1 + 1, empty
    assert window_count(13, 1, 3, 2) == 7


def test_convolution_rule_output_and_far_padding():
    rule = convolution_rule(_layer(LONG_KERNEL, "conv"), [(2, 3, 4, 6)])
    assert rule.top_shape((2, 3, 4, 6)) == (2, 4, 1, 1)
    assert rule.far_padding((4, 6)) == [1, 0]
    assert rule.weight_shape() == (4, 3, 5, 5)


def _reference(tmp_path):
    """The torch engine's forward (the reference) and the caffemodel it filled."""
    from caffe_compat import Net
    from caffe_compat.io.caffemodel import caffemodel_bytes
    net = Net(LONG_KERNEL, phase="test", seed=5)
    x = np.random.default_rng(5).normal(0, 1, (2, 3, 4, 6)).astype(np.float32)
    out = net.forward(blobs=["conv"], data=x)["conv"].detach().numpy()
    return x, out, caffemodel_bytes(net.to_proto())


def _scaled(a, b):
    return float(np.abs(a.astype(np.float64) - b).max()) / float(np.abs(b).max())


def test_long_kernel_in_the_array_engine(tmp_path):
    from caffe_compat.array_net import build_array_net
    from caffe_compat.kernels import caffe_products
    if not caffe_products.available():
        pytest.skip("the compiled kernel is not built")
    x, want, model = _reference(tmp_path)
    assert want.shape == (2, 4, 1, 1)
    arrays = build_array_net(parse_net(LONG_KERNEL), "TEST")
    assert arrays is not None, "the array engine left a kernel past the input to torch"
    assert arrays.data["conv"].shape == (2, 4, 1, 1)


def test_long_kernel_through_pycaffe_without_torch(tmp_path):
    """pycaffe's array engine runs it (no torch import) with the reference's values."""
    x, want, model = _reference(tmp_path)
    (tmp_path / "n.prototxt").write_text(LONG_KERNEL)
    (tmp_path / "n.caffemodel").write_bytes(model)
    np.save(tmp_path / "x.npy", x)
    # run from the repository root (this project's caffe first, whatever PYTHONPATH holds)
    code = ("import os, sys, numpy as np, caffe\n"
            f"os.chdir({str(tmp_path)!r})\n"
            "net = caffe.Net('n.prototxt', caffe.TEST, weights='n.caffemodel')\n"
            "out = net.forward(data=np.load('x.npy'))['conv']\n"
            "np.save('y.npy', out)\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    got = np.load(tmp_path / "y.npy")
    assert got.shape == want.shape and _scaled(got, want) <= ENGINE_TOL


def test_long_kernel_on_the_torch_free_path(tmp_path):
    from tests.caffe_compat.onnx_path.helpers import torch_free
    x, want, model = _reference(tmp_path)
    (got,), _ = torch_free(LONG_KERNEL, model, {"data": x}, ["conv"])
    assert got.shape == want.shape and _scaled(got, want) <= ENGINE_TOL


def test_long_kernel_in_the_pytorch_source(tmp_path):
    pytest.importorskip("safetensors")
    from caffe_compat import Net
    from caffe_compat.export import export_pytorch
    net = Net(LONG_KERNEL, phase="test", seed=5)
    report = export_pytorch(net, tmp_path / "long")
    assert report["ok"], report["failures"]
    assert "F.pad(" in (tmp_path / "long" / "model.py").read_text()


GLOBAL = """name: "g"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }
layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
        pooling_param { pool: MAX global_pooling: true %s } }
"""


@pytest.mark.parametrize("extra, message", [
    ("kernel_size: 2", "with global_pooling the kernel size cannot be specified"),
    ("pad: 1", "with global_pooling, pad must be 0 and stride 1"),
    ("stride: 2", "with global_pooling, pad must be 0 and stride 1")])
def test_global_pooling_refusals_on_every_path(extra, message, tmp_path):
    text = GLOBAL % extra
    with pytest.raises(NetError, match=message):
        pooling_rule(_layer(text, "pool"))
    from caffe_compat import Net
    with pytest.raises(NetError, match=message):
        Net(text, phase="test")
    # the torch-free converter refuses it too, with the same words (it wrote a plain
    # GlobalMaxPool before)
    from caffe_compat.onnx_path.converters import converter
    from caffe_compat.onnx_path.graph import Graph, Value
    with pytest.raises(NetError, match=message):
        converter("Pooling")(Graph(), _layer(text, "pool"), [Value("data", (1, 2, 5, 5))], None)


@pytest.mark.parametrize("extra, message", [
    ("pad_h: 1", "give either pad or both pad_h and pad_w"),
    ("stride: 2 stride_w: 1", "give either stride or both stride_h and stride_w")])
def test_pooling_refuses_a_partial_h_w_form(extra, message):
    text = GLOBAL.replace("global_pooling: true", "kernel_size: 3") % extra
    with pytest.raises(NetError, match=message):
        pooling_rule(_layer(text, "pool"))


def test_pooled_size():
    assert pooled_size(12, 3, 2, 1, True) == 7
    assert pooled_size(10, 3, 2, 0, False) == 4
    assert pooled_size(5, 2, 2, 1, True) == 3


# Input's rule (rules/input.py): read by the torch and array engines, the net's signature and
# the weights' pruning; cv2.dnn's reader keeps OpenCV's laxer reading (opencv_shapes)
_INPUT = ('name: "n"\nlayer {{ name: "in" type: "Input" top: "a" top: "b" top: "c" '
          'input_param {{ {} }} }}\nlayer {{ name: "y" type: "ReLU" bottom: "a" top: "y" }}\n')


@pytest.mark.parametrize("shapes, words", [
    ("shape { dim: 1 dim: 2 } shape { dim: 1 dim: 2 }", "must give 0, 1 or 3 shapes"),
    ("shape { dim: 1 dim: -2 }", "negative dimension in input shapes"),
])
def test_input_refusals_are_the_same_in_both_engines(shapes, words):
    from caffe_compat import Net
    from caffe_compat.array_net.net import ArrayNet
    from caffe_compat.errors import NetError
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.net.graph import build_graph
    text = _INPUT.format(shapes)
    with pytest.raises(NetError, match=words) as torch_error:
        Net(text, phase="test")
    with pytest.raises(NetError) as array_error:
        ArrayNet(build_graph(parse_net(text), "TEST", 0, []))
    said = str(torch_error.value)
    assert said[said.index("layer '"):] in str(array_error.value)


def test_input_shapes_one_for_every_top_or_one_each():
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.rules.input import input_rule, opencv_shapes
    one = parse_net(_INPUT.format("shape { dim: 1 dim: 2 }")).layer[0]
    assert input_rule(one).shapes == ((1, 2),) * 3
    each = parse_net(_INPUT.format("shape { dim: 1 } shape { dim: 2 } shape { dim: 3 }")).layer[0]
    assert input_rule(each).shapes == ((1,), (2,), (3,))
    assert input_rule(parse_net(_INPUT.format("")).layer[0]).shapes == ()
    two = parse_net(_INPUT.format("shape { dim: 1 } shape { dim: 2 }")).layer[0]
    assert opencv_shapes(two) == [(1,), (2,), (1,)]       # OpenCV's importer: else the first
