"""Protobuf's C++ text printer (``google::protobuf::TextFormat::Print``), the writer of Caffe's
tools (``WriteProtoToTextFile``: ``upgrade_net_proto_text``, ``upgrade_solver_proto_text``)
and, through pycaffe, of ``str()`` of a message: the set fields in field-number order, a
nested message as ``name {`` ... ``}`` indented by two spaces, enums by name, strings
C-escaped. Floating-point values are the one difference between the two: the C++ printer
writes a float with ``%.6g`` when that reads back to the same float, else ``%.9g``
(SimpleFtoa), a double with ``%.15g`` else ``%.17g`` (SimpleDtoa), so ``1``, ``0.01``,
``0.333333343``; pycaffe's ``str()`` shows Python's ``str`` of the double
(:func:`python_float`: ``1.0``, ``0.009999999776482582``)."""
from __future__ import annotations

import math
import struct

from google.protobuf import descriptor as _descriptor
from google.protobuf import text_encoding

_FD = _descriptor.FieldDescriptor


def _float32(value):
    """``value`` rounded to the nearest float32, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _round_trip(value, digits, kind):
    for n in digits:
        text = f"{value:.{n}g}"
        if kind(float(text)) == kind(value):
            return text
    return text


def cpp_float(field, value):
    """A float or double as protobuf's C++ printer writes it (SimpleFtoa / SimpleDtoa)."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if field.cpp_type == _FD.CPPTYPE_FLOAT:
        return _round_trip(value, (6, 9), _float32)
    return _round_trip(value, (15, 17), float)


def python_float(field, value):
    """A float or double as pycaffe's ``str()`` shows it: Python's ``str`` of the value."""
    return str(float(value))


def _scalar(field, value, floats):
    cpp = field.cpp_type
    if cpp in (_FD.CPPTYPE_FLOAT, _FD.CPPTYPE_DOUBLE):
        return floats(field, value)
    if cpp == _FD.CPPTYPE_BOOL:
        return "true" if value else "false"
    if cpp == _FD.CPPTYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named is not None else str(value)
    if cpp == _FD.CPPTYPE_STRING:
        return '"' + text_encoding.CEscape(value, as_utf8=False) + '"'
    return str(value)


def message_text(message, floats=cpp_float, indent=0):
    """``message`` in the C++ printer's text format, floats written by ``floats``."""
    pad = " " * indent
    out = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for v in values:
            if field.cpp_type == _FD.CPPTYPE_MESSAGE:
                out.append(f"{pad}{field.name} {{\n{message_text(v, floats, indent + 2)}"
                           f"{pad}}}\n")
            else:
                out.append(f"{pad}{field.name}: {_scalar(field, v, floats)}\n")
    return "".join(out)
