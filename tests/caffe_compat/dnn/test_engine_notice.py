"""Which engine runs a cv2.dnn net, and the one warning that says why a net left the
torch-free path (caffe_compat.diagnostics.engine_notice)."""
import warnings

from caffe_compat import dnn
from caffe_compat import onnx_path as lite
from caffe_compat.diagnostics import engine_notice
from caffe_compat.diagnostics.engine_notice import EngineFallbackWarning

from ..onnx_path.helpers import lite_mode, seeded_model

HEAD = """name: "n"
input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 3 } }
"""
# a loss: a type the torch-free path has no converter for
UNCONVERTED = HEAD + ('layer { name: "e" type: "SigmoidCrossEntropyLoss" bottom: "c1" '
                      'bottom: "c1" top: "e" }\n')


def _read(text, model):
    return dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)


def test_a_converted_net_says_torch_free():
    model = seeded_model(HEAD)
    with lite_mode("on"), warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallbackWarning)
        net = _read(HEAD, model)
    assert net.engine == "torch-free" and net.engine_reason is None


def test_a_fallback_says_why_once(monkeypatch):
    # what earlier tests of this process said is not this test's (the same type in a buffer)
    monkeypatch.setattr(engine_notice, "_SAID", set())
    model = seeded_model(UNCONVERTED)
    text = UNCONVERTED.replace('name: "n"', 'name: "once"')
    with lite_mode("on"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        first, second = _read(text, model), _read(text, model)
    said = [w for w in seen if issubclass(w.category, EngineFallbackWarning)]
    assert len(said) == 1, [str(w.message) for w in said]
    assert "SigmoidCrossEntropyLoss" in str(said[0].message) and said[0].filename == __file__
    for net in (first, second):
        assert net.engine == "torch"
        assert "SigmoidCrossEntropyLoss" in net.engine_reason


def test_no_notice_when_the_torch_path_was_asked_for():
    model = seeded_model(UNCONVERTED)
    with lite_mode("off"), warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallbackWarning)
        net = _read(UNCONVERTED, model)
        assert lite.mode() == "off"
    assert net.engine == "torch" and net.engine_reason is None
