"""Sessions made while the thread policy gave fewer threads (another process held a core) are
made again once it gives more: onnxruntime and OpenVINO fix a session's threads when it is
made (caffe_compat.onnx_path.runtime.ThreadWatch). Float32 (TorchFreeNet), bf16
(HalfForwards) and int8 (the quantized model kept: no second calibration)."""
import numpy as np
import pytest

from caffe_compat.onnx_path import runtime
from tests.caffe_compat.onnx_path.helpers import seeded_model

TEXT = """name: "t"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }
layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
layer { name: "fc" type: "InnerProduct" bottom: "c" top: "fc" inner_product_param { num_output: 5 } }
"""


@pytest.fixture
def policy(monkeypatch):
    """The thread count the policy gives (set by the test), and the counts sessions were made
    with, per runtime."""
    state = {"now": 1, "made": []}
    monkeypatch.setattr(runtime, "_threads", lambda: state["now"])
    for name in ("_onnxruntime", "_openvino"):
        real = getattr(runtime, name)

        def made(*args, _real=real, _name=name, **kwargs):
            state["made"].append((_name, state["now"]))
            return _real(*args, **kwargs)
        monkeypatch.setattr(runtime, name, made)
        monkeypatch.setitem(runtime._RUNTIMES, name[1:], made)
    real_ov = runtime.openvino_session

    def ov_made(*args, **kwargs):
        state["made"].append(("openvino_session", state["now"]))
        kwargs["hint"] = None if kwargs.get("hint") is None else "f32"   # any processor
        return real_ov(*args, **kwargs)
    monkeypatch.setattr(runtime, "openvino_session", ov_made)
    return state


def _dnn_net(tmp_path):
    from caffe_compat import dnn
    from tests.caffe_compat.onnx_path.helpers import lite_mode
    proto, model = tmp_path / "t.prototxt", tmp_path / "t.caffemodel"
    proto.write_text(TEXT)
    model.write_bytes(seeded_model(TEXT))
    with lite_mode("on"):
        return dnn.readNetFromCaffe(str(proto), str(model))


def test_float32_sessions_are_made_again_on_more_threads(policy, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv(runtime.ENV_RUNTIME, "onnxruntime")
    net = _dnn_net(tmp_path)
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    net.setInput(x)
    first = net.forward()
    assert policy["made"] and {n for _, n in policy["made"]} == {1}
    policy["made"].clear()
    net.setInput(x)
    net.forward()
    assert policy["made"] == []                    # same count: the session is kept
    policy["now"] = 2
    net.setInput(x)
    again = net.forward()
    assert policy["made"] and {n for _, n in policy["made"]} == {2}
    np.testing.assert_array_equal(again, first)
    policy["made"].clear()
    policy["now"] = 1                              # fewer again: kept (no flapping)
    net.setInput(x)
    net.forward()
    assert policy["made"] == []


def test_bf16_and_int8_sessions_are_made_again_without_a_second_calibration(policy, tmp_path,
                                                                            monkeypatch):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime.quantization")
    from caffe_compat.onnx_path import quantize, reduced
    from caffe_compat.dnn.precision import _torch_free_parts
    net = _dnn_net(tmp_path)
    layers, weights, name = _torch_free_parts(net)
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    half = reduced.HalfForwards(layers, ["data"], weights, "bf16", name)
    half.run([x.shape], ["fc"], {"data": x})
    monkeypatch.setenv("CAFFE_COMPAT_INT8_RUNTIME", "openvino")
    int8 = quantize.Int8Forwards(layers, ["data"], weights, {"data": x}, name=name)
    calibrations = []
    real = int8.quantized
    monkeypatch.setattr(int8, "quantized", lambda *a: calibrations.append(a) or real(*a))
    int8.run([x.shape], ["fc"], {"data": x})
    assert {n for _, n in policy["made"]} == {1} and len(calibrations) == 1
    policy["made"].clear()
    policy["now"] = 2
    half.run([x.shape], ["fc"], {"data": x})
    int8.run([x.shape], ["fc"], {"data": x})
    assert [n for _, n in policy["made"]] == [2, 2]
    assert len(calibrations) == 1                  # the int8 model was kept
