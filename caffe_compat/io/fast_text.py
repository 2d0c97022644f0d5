"""A quick reader for the common part of protobuf's text format, for well-formed prototxts.

Caffe reads a prototxt with protobuf's C++ text parser; Python's ``text_format.Parse`` walks
the text token by token (tens of ms for GoogLeNet's deploy net: docs/benchmarks.md).
:func:`parse` reads the same text with one regular expression and sets the fields directly,
for the forms prototxts are written in:

- ``name: value`` and ``name { ... }`` / ``name: { ... }`` / ``name < ... >``, ``#`` comments,
  ``,`` or ``;`` after a field;
- decimal integers, decimal floats (``1``, ``-0.5``, ``.5``, ``1e-4``, ``2.``), ``inf`` /
  ``nan`` in float fields, ``true`` / ``false`` / ``True`` / ``False`` / ``t`` / ``f`` /
  ``1`` / ``0``, enum value names, single- or double-quoted strings without escapes.

Anything else (escapes, adjacent strings, ``[a, b]`` lists, hexadecimal or octal numbers, an
enum by number, a ``1.0f`` suffix, extensions, an unknown field, a non-repeated field given
twice, a value of the wrong kind or out of range) makes it return False, and the caller
parses with ``text_format.Parse``, which gives the same message or the error to report
(``tests/caffe_compat/test_fast_text.py`` checks every prototxt the project holds and seeded
mutations of them)."""
from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from caffe_compat.io.text_values import NotPlain, scalar, tokens

# a field's type -> the kind text_values reads its value as
_KINDS = {
    FieldDescriptor.TYPE_INT32: "int32", FieldDescriptor.TYPE_SINT32: "int32",
    FieldDescriptor.TYPE_SFIXED32: "int32", FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SINT64: "int64", FieldDescriptor.TYPE_SFIXED64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32", FieldDescriptor.TYPE_FIXED32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64", FieldDescriptor.TYPE_FIXED64: "uint64",
    FieldDescriptor.TYPE_FLOAT: "float", FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_BOOL: "bool", FieldDescriptor.TYPE_ENUM: "enum",
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BYTES: "bytes",
}
_CLOSING = {"{": "}", "<": ">"}
_ENUM_NUMBERS = {}          # enum full name -> {value name: number}


class _Unsupported(Exception):
    """A form this reader leaves to text_format."""


def _scalar(field, token):
    """The Python value of ``token`` for ``field`` (raises NotPlain where unsure)."""
    numbers = None
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        numbers = _ENUM_NUMBERS.get(enum.full_name)
        if numbers is None:
            numbers = _ENUM_NUMBERS[enum.full_name] = {
                name: v.number for name, v in enum.values_by_name.items()}
    return scalar(_KINDS.get(field.type), token, numbers)


def _merge(tokens, pos, message, closing):
    """Fields from ``tokens[pos]`` into ``message`` up to ``closing`` (None: the end);
    returns the position after the closing token."""
    fields = message.DESCRIPTOR.fields_by_name
    n = len(tokens)
    seen = set()
    while True:
        if pos >= n:
            if closing is None:
                return pos
            raise _Unsupported
        tok = tokens[pos]
        if tok == closing:
            return pos + 1
        field = fields.get(tok)
        if field is None:
            raise _Unsupported                     # unknown, or not a name: text_format says
        pos += 1
        if pos >= n:
            raise _Unsupported
        repeated = field.is_repeated
        if not repeated:
            if tok in seen or field.containing_oneof is not None:
                raise _Unsupported                 # given twice, or a oneof: text_format's rule
            seen.add(tok)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if tokens[pos] == ":":
                pos += 1
            if pos >= n or tokens[pos] not in _CLOSING:
                raise _Unsupported
            end = _CLOSING[tokens[pos]]
            child = getattr(message, tok).add() if repeated else getattr(message, tok)
            if not repeated:
                child.SetInParent()
            pos = _merge(tokens, pos + 1, child, end)
        else:
            if tokens[pos] != ":":
                raise _Unsupported
            pos += 1
            if pos >= n:
                raise _Unsupported
            value = _scalar(field, tokens[pos])
            pos += 1
            if pos < n and tokens[pos][0] in "\"'" and field.type in (
                    FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
                raise _Unsupported                 # adjacent strings: concatenated there
            if repeated:
                getattr(message, tok).append(value)
            else:
                setattr(message, tok, value)
        if pos < n and tokens[pos] in (",", ";"):
            pos += 1


def parse(text, message):
    """Parse ``text`` into ``message`` (cleared first) and return True, or return False (the
    message then holds anything) where the text uses a form this reader leaves to
    ``text_format.Parse`` (module doc)."""
    message.Clear()
    try:
        _merge(tokens(text), 0, message, None)
    except (_Unsupported, NotPlain, ValueError, TypeError, AttributeError):
        message.Clear()
        return False
    return True
