"""A user's own layer type exported to ONNX: ``register_converter`` takes the torch-free
path's converter form ``(g, lp, bottoms, blobs)``, and the export (batch axis free) runs it."""
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat import Net
from caffe_compat.export import converter_types, export_onnx, register_converter
from caffe_compat.layers import registry as layer_registry
from caffe_compat.layers.base import Layer
from caffe_compat.rules import registry

# one float32 product per value, the same in onnxruntime and torch: equal to the last bit
EXACT = 0.0
TYPE = "CompatTestExportScaleBy"


@pytest.fixture
def scale_by():
    @caffe_compat.register_layer(TYPE)
    class ScaleBy(Layer):
        exact_bottoms = exact_tops = 1
        blob_names = ("alpha",)

        def __init__(self, param, bottom_shapes, phase="TEST"):
            super().__init__(param, bottom_shapes, phase)
            self.add_blob("alpha", (1,))

        def forward(self, x):
            return x * self.alpha

    @register_converter(TYPE)
    def convert(g, lp, bottoms, blobs):
        x, = bottoms
        return [type(x)(g.op("Mul", [x, g.const(blobs[0])]), x.shape)]

    yield
    layer_registry._REGISTRY.pop(TYPE, None)
    for engine in ("lite", "onnx"):
        registry.entries(engine).pop(TYPE, None)


def test_a_registered_converter_exports_the_users_type(scale_by, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    assert TYPE in converter_types()
    net = Net(f"""input: "data" input_shape {{ dim: 2 dim: 3 }}
        layer {{ name: "s" type: "{TYPE}" bottom: "data" top: "s" }}""", phase="test")
    with torch.no_grad():
        net.params["s"][0].fill_(2.5)
    export_onnx(net, tmp_path / "m.onnx")
    x = np.arange(15, dtype=np.float32).reshape(5, 3)         # another batch than the file's
    got, = ort.InferenceSession(str(tmp_path / "m.onnx"),
                                providers=["CPUExecutionProvider"]).run(None, {"data": x})
    assert np.abs(got - 2.5 * x).max() <= EXACT
