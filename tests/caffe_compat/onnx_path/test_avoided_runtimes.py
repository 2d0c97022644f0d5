"""A converter that writes a node some runtime computes otherwise than Caffe names that runtime
(``Graph.avoid``): the net never runs there, neither by ``CAFFE_COMPAT_TORCH_FREE_RUNTIME`` nor
by the runtime trial. ArgMax with ``top_k`` > 1: OpenVINO's TopK (2026.4) returns equal values
in another order than ONNX's lower index first from about 30 values on, so Caffe's order of
ties (the larger index first) is lost there."""
import numpy as np
import pytest

from caffe_compat import onnx_path as lite
from caffe_compat.onnx_path import graph
from caffe_compat.io.protobuf_free.text import parse

TEXT = ('name: "a" input: "data" input_shape { dim: 1 dim: 60 }\n'
        'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
        'layer { name: "y" type: "ArgMax" bottom: "r" top: "y" argmax_param { top_k: %d } }\n')


def _net(top_k):
    layers = [lp for lp in parse(TEXT % top_k).layer]
    return lite.TorchFreeNet(layers, ["data"], lambda: {}, "a")


def test_argmax_top_k_above_one_avoids_openvino():
    plan = graph.build(_net(45).layers, [("data", (1, 60))], {}, ["y"])
    assert set(plan.avoids) == {"openvino"}
    assert "ties" in plan.avoids["openvino"]
    one = graph.build(_net(1).layers, [("data", (1, 60))], {}, ["y"])
    assert one.avoids == {}


def test_a_net_asked_onto_an_avoided_runtime_leaves_the_torch_free_path(monkeypatch):
    pytest.importorskip("openvino")
    from caffe_compat.onnx_path.converters import Unsupported
    from caffe_compat.onnx_path.runtime import ENV_RUNTIME
    monkeypatch.setenv(ENV_RUNTIME, "openvino")
    net = _net(45)
    x = np.maximum(np.random.default_rng(0).normal(size=(1, 60)), 0).astype(np.float32)
    with pytest.raises(Unsupported, match="not on openvino"):
        net.run([(1, 60)], ["y"], {"data": x})
    monkeypatch.setenv(ENV_RUNTIME, "onnxruntime")
    pytest.importorskip("onnxruntime")
    got = net.run([(1, 60)], ["y"], {"data": x})[0].reshape(-1).astype(int)
    caffe_order = sorted(range(60), key=lambda i: (-x[0, i], -i))      # ties: larger first
    assert list(got) == caffe_order[:45]


def test_the_runtime_trial_leaves_out_the_avoided_runtime(monkeypatch):
    pytest.importorskip("onnxruntime")
    from caffe_compat.onnx_path import choice
    from caffe_compat.onnx_path.runtime import ENV_RUNTIME
    monkeypatch.setenv(ENV_RUNTIME, "onnxruntime")
    monkeypatch.setattr(choice, "candidates", lambda first: ["onnxruntime", "opencv",
                                                             "openvino"])
    monkeypatch.setattr(choice, "enabled", lambda: True)
    net = _net(45)
    x = np.zeros((1, 60), np.float32)
    net.run([(1, 60)], ["y"], {"data": x})
    (_, plan, session), = net.plans()
    assert "openvino" not in session._others()
    assert "opencv" in session._others()
