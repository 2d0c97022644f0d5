"""The ONNX bytes written without the onnx package are valid ONNX: read back and checked by
the onnx package's own checker, with the shapes and attributes written."""
import numpy as np
import onnx
from onnx import numpy_helper

from caffe_compat.onnx_path import graph, onnx_wire
from caffe_compat.onnx_path.converters import Unsupported  # noqa: F401 - the package registers


def test_model_reads_back_and_passes_the_checker():
    w = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    nodes = [onnx_wire.node("Conv", ["x", "w"], ["y"], "c", {"kernel_shape": [2, 2],
                                                               "pads": [0, 0, 0, 0]}),
             onnx_wire.node("LeakyRelu", ["y"], ["z"], "r", {"alpha": 0.25})]
    data = onnx_wire.model("g", nodes, [onnx_wire.tensor("w", w)], [("x", (1, 3, 4, 4))],
                           [("z", (1, 2, 3, 3))])
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m)
    assert m.opset_import[0].version == onnx_wire.OPSET
    np.testing.assert_array_equal(numpy_helper.to_array(m.graph.initializer[0]), w)
    assert [n.op_type for n in m.graph.node] == ["Conv", "LeakyRelu"]
    assert onnx.helper.get_attribute_value(m.graph.node[1].attribute[0]) == 0.25
    assert list(onnx.helper.get_attribute_value(m.graph.node[0].attribute[0])) == [2, 2]
    dims = [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 2, 3, 3]


def test_large_weights_are_marked_external():
    g = graph.Graph(external=True)
    big = np.ones(graph.Graph.EXTERNAL_MIN, np.float32)
    name = g.const(big)
    small = g.const(np.ones(3, np.float32))
    y = g.op("Add", ["x", small])
    data = onnx_wire.model("g", g.nodes, g.initializers, [("x", (3,))], [(y, (3,))])
    m = onnx.load_model_from_string(data)
    kinds = {t.name: t.data_location for t in m.graph.initializer}
    assert kinds[name] == onnx.TensorProto.EXTERNAL and kinds[small] == onnx.TensorProto.DEFAULT
    assert g.external[name] is not None and len(data) < big.nbytes
