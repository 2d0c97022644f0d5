"""A prototxt read into :class:`~caffe_compat.light.message.Message` s without protobuf: the
forms :mod:`caffe_compat.io.fast_text` reads (its module doc), and nothing else. :func:`parse`
returns None for any other form, an unknown field, a value of the wrong kind or out of range,
a non-repeated field given twice or a required field missing: the protobuf reader then reads
the text and gives the message, or the error, it always gave.

Values are kept as protobuf's Python messages give them back: a ``float`` field's value
rounded to float32, integers as ``int``, an enum as its number, a ``bytes`` field as bytes."""
from __future__ import annotations

import math
import re
import struct

from caffe_compat.proto.schema import ENUMS, REQUIRED

from .message import FIELDS, Message

_TOKEN = re.compile(r"""
    \s+ | \#[^\n]*
  | (?P<str>"[^"\\\n]*"|'[^'\\\n]*')
  | (?P<punct>[{}<>:,;])
  | (?P<word>[A-Za-z0-9_.+-]+)
  | (?P<other>.)
""", re.VERBOSE)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {"inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
                   "-infinity": -math.inf, "nan": math.nan}
_BOOLS = {"true": True, "True": True, "t": True, "1": True,
          "false": False, "False": False, "f": False, "0": False}
_INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1),
               "uint32": (0, 2 ** 32 - 1), "uint64": (0, 2 ** 64 - 1)}
_CLOSING = {"{": "}", "<": ">"}
_F32 = struct.Struct("<f")


class _Other(Exception):
    """A form left to the protobuf reader."""


def _tokens(text):
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        if kind == "other":
            raise _Other
        out.append(m.group(kind))
    return out


def _float32(value):
    """``value`` as a float field gives it back (float32); a finite value beyond float32's
    range is left to protobuf."""
    try:
        return _F32.unpack(_F32.pack(value))[0]
    except OverflowError:
        raise _Other from None


def _scalar(kind, type_name, token):
    if kind in _INT_RANGES:
        if not _INT.fullmatch(token):
            raise _Other
        value = int(token)
        lo, hi = _INT_RANGES[kind]
        if not lo <= value <= hi:
            raise _Other
        return value
    if kind in ("float", "double"):
        if _FLOAT.fullmatch(token):
            value = float(token)
        else:
            value = _SPECIAL_FLOATS.get(token.lower())
            if value is None:
                raise _Other
        return _float32(value) if kind == "float" else value
    if kind == "bool":
        value = _BOOLS.get(token)
        if value is None:
            raise _Other
        return value
    if kind == "enum":
        value = ENUMS[type_name].get(token)
        if value is None:
            raise _Other
        return value
    if kind in ("string", "bytes"):
        if token[0] not in "\"'":
            raise _Other
        text = token[1:-1]
        return text.encode("utf-8") if kind == "bytes" else text
    raise _Other


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
        message, _ = _merge(_tokens(text), 0, type_name, None)
    except (_Other, ValueError, TypeError, RecursionError):
        return None
    return message
