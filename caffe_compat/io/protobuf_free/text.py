"""A prototxt read into :class:`~caffe_compat.io.protobuf_free.message.Message` s without
protobuf, in the forms prototxts are written in (:mod:`caffe_compat.io.text_values`; the list
is :mod:`caffe_compat.io.fast_text`'s, which reads through this module), and nothing else.
:func:`parse` returns None for any other form, an unknown field, a value of the wrong kind or
out of range, a non-repeated field given twice or a required field missing: the protobuf
reader then reads the text and gives the message, or the error, it always gave.

Values are kept as protobuf's Python messages give them back: a ``float`` field's value
rounded to float32, integers as ``int``, an enum as its number, a ``bytes`` field as bytes."""
from __future__ import annotations

import struct

from caffe_compat.io.text_values import NotPlain, scalar, tokens
from caffe_compat.proto.schema import ENUMS, REQUIRED

from .message import FIELDS, Message

_CLOSING = {"{": "}", "<": ">"}
_F32 = struct.Struct("<f")


class _Other(Exception):
    """A form left to the protobuf reader."""


def _scalar(kind, type_name, token):
    """The value of ``token`` as a message of protobuf gives it back: a ``float`` field's
    rounded to float32 (a finite value beyond float32's range is left to protobuf)."""
    value = scalar(kind, token, ENUMS[type_name] if kind == "enum" else None)
    if kind == "float":
        try:
            return _F32.unpack(_F32.pack(value))[0]
        except OverflowError:
            raise _Other from None
    return value


def _merge(tokens, pos, type_name, closing):
    """(the Message of ``type_name`` read from ``tokens[pos]`` up to ``closing`` (None: the
    end), the position after the closing token)."""
    fields = FIELDS[type_name]
    values = {}
    n = len(tokens)
    while True:
        if pos >= n:
            if closing is None:
                break
            raise _Other
        tok = tokens[pos]
        if tok == closing:
            pos += 1
            break
        field = fields.get(tok)
        if field is None:
            raise _Other
        pos += 1
        if pos >= n:
            raise _Other
        _, kind, repeated, _, _, sub = field
        if not repeated and tok in values:
            raise _Other                        # given twice: text_format's rule
        if kind == "message":
            if tokens[pos] == ":":
                pos += 1
            if pos >= n or tokens[pos] not in _CLOSING:
                raise _Other
            value, pos = _merge(tokens, pos + 1, sub, _CLOSING[tokens[pos]])
        else:
            if tokens[pos] != ":":
                raise _Other
            pos += 1
            if pos >= n:
                raise _Other
            value = _scalar(kind, sub, tokens[pos])
            pos += 1
            if pos < n and tokens[pos][0] in "\"'" and kind in ("string", "bytes"):
                raise _Other                    # adjacent strings: concatenated there
        if repeated:
            values.setdefault(tok, []).append(value)
        else:
            values[tok] = value
        if pos < n and tokens[pos] in (",", ";"):
            pos += 1
    missing = [f for f in REQUIRED.get(type_name, ()) if f not in values]
    if missing:
        raise _Other                            # protobuf's reader names what is missing
    return Message(type_name, values), pos


def parse(text, type_name="NetParameter"):
    """The :class:`Message` of prototxt ``text``, or None for a form left to the protobuf
    reader (module doc)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        message, _ = _merge(tokens(text), 0, type_name, None)
    except (_Other, NotPlain, ValueError, TypeError, RecursionError):
        return None
    return message
