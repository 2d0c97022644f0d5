"""``caffe.proto.caffe_pb2``: the engine's generated Caffe schema under pycaffe's name.

Importing it also makes ``str()`` of every Caffe message print as pycaffe prints it (protobuf's
C++ text printer as pycaffe uses it: float and double fields as Python's ``str`` of the value,
e.g. ``0.009999999776482582`` for a float 0.01 and ``1.0`` for 1), so a program writing
``str(net_param)`` to a file writes pycaffe's bytes. The engine's own writers do not use
``str()`` and are unaffected."""
import sys

from google.protobuf import descriptor as _descriptor
from google.protobuf import text_encoding as _text_encoding

from caffe_compat.proto import caffe_pb2

# ``import caffe.proto.caffe_pb2`` and ``from caffe.proto import caffe_pb2`` give one module
sys.modules.setdefault(__name__ + ".caffe_pb2", caffe_pb2)

_FD = _descriptor.FieldDescriptor


def _scalar(field, value):
    cpp = field.cpp_type
    if cpp in (_FD.CPPTYPE_FLOAT, _FD.CPPTYPE_DOUBLE):
        return str(float(value))
    if cpp == _FD.CPPTYPE_BOOL:
        return "true" if value else "false"
    if cpp == _FD.CPPTYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named is not None else str(value)
    if cpp == _FD.CPPTYPE_STRING:
        return '"' + _text_encoding.CEscape(value, as_utf8=False) + '"'
    return str(value)


def pycaffe_text(message, indent=0):
    """``message`` in text format as pycaffe's ``str()`` writes it."""
    pad = " " * indent
    out = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for v in values:
            if field.cpp_type == _FD.CPPTYPE_MESSAGE:
                out.append(f"{pad}{field.name} {{\n{pycaffe_text(v, indent + 2)}{pad}}}\n")
            else:
                out.append(f"{pad}{field.name}: {_scalar(field, v)}\n")
    return "".join(out)


def _message_classes():
    stack = list(caffe_pb2.DESCRIPTOR.message_types_by_name.values())
    while stack:
        desc = stack.pop()
        stack.extend(desc.nested_types)
        cls = caffe_pb2
        for part in desc.full_name.split(".")[1:]:
            cls = getattr(cls, part)
        yield cls


for _cls in _message_classes():
    _cls.__str__ = pycaffe_text

__all__ = ["caffe_pb2", "pycaffe_text"]
