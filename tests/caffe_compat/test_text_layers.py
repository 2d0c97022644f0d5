"""Naming the layer that holds a line of a prototxt (for messages about skipped fields)."""
from caffe_compat.io.text_layers import layer_of_line, layer_spans
from caffe_compat.proto import caffe_pb2

TEXT = '''name: "n"  # a comment with { braces }
layer {
  name: "a"
  type: "ReLU"
  top: "}" # a brace in a string
}
layers { name: "v1" }
layer { name: "b" type: "Pooling"
  pooling_param { pool: MAX }
}
'''


def test_spans_skip_strings_and_comments():
    assert layer_spans(TEXT) == [("layer", 2, 6), ("layers", 7, 7), ("layer", 8, 10)]


def test_layer_of_line():
    net = caffe_pb2.NetParameter()
    net.layer.add(name="a")
    net.layer.add(name="b")
    net.layers.add(name="v1")
    assert layer_of_line(net, TEXT, 4) == "'a'"
    assert layer_of_line(net, TEXT, 9) == "'b'"
    assert layer_of_line(net, TEXT, 7) == "'v1'"
    assert layer_of_line(net, TEXT, 1) is None
