"""caffe_compat/proto/schema.py is the table make_schema writes from caffe_pb2 (regenerate it
with ``python -m caffe_compat.proto.make_schema`` after changing caffe.proto)."""
import os

from caffe_compat.proto import make_schema


def test_the_schema_table_is_caffe_protos():
    path = os.path.join(os.path.dirname(make_schema.__file__), "schema.py")
    with open(path, encoding="utf-8") as f:
        assert f.read() == make_schema.text()


def test_float_defaults_read_back_as_float32():
    """An unset float field reads as protobuf gives it back (0.0001 as float32)."""
    from caffe_compat.io.protobuf_free.message import Message
    from caffe_compat.proto import caffe_pb2
    for message, field in (("LRNParameter", "alpha"), ("LRNParameter", "beta"),
                           ("BatchNormParameter", "eps"), ("PriorBoxParameter", "offset")):
        assert getattr(Message(message), field) == getattr(getattr(caffe_pb2, message)(), field)
