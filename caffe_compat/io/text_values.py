"""The tokens and plain values of protobuf's text format that the quick readers take, without
protobuf: :mod:`caffe_compat.io.fast_text` (into protobuf messages) and
:mod:`caffe_compat.io.protobuf_free.text` (into light messages) read the same forms, and leave every
other one to ``text_format``.

Taken: decimal integers within the field's range, decimal floats (``1``, ``-0.5``, ``.5``,
``1e-4``, ``2.``), ``inf`` / ``nan`` in float fields, ``true`` / ``false`` / ``True`` /
``False`` / ``t`` / ``f`` / ``1`` / ``0``, enum value names, single- or double-quoted strings
without escapes. Anything else raises :class:`NotPlain`."""
from __future__ import annotations

import math
import re

TOKEN = re.compile(r"""
    \s+ | \#[^\n]*                                  # space, comments: skipped
  | (?P<str>"[^"\\\n]*"|'[^'\\\n]*')                 # a string without escapes
  | (?P<punct>[{}<>:,;])
  | (?P<word>[A-Za-z0-9_.+-]+)
  | (?P<other>.)                                     # anything else: the full parser's case
""", re.VERBOSE)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
# no leading zero before a digit: text_format refuses "02.5" as an octal-looking float
_FLOAT = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {"inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
                   "-infinity": -math.inf, "nan": math.nan}
_BOOLS = {"true": True, "True": True, "t": True, "1": True,
          "false": False, "False": False, "f": False, "0": False}
INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1),
              "uint32": (0, 2 ** 32 - 1), "uint64": (0, 2 ** 64 - 1)}


class NotPlain(Exception):
    """A form the quick readers leave to ``text_format``."""


def tokens(text):
    """The tokens of ``text`` (strings with their quotes), without space and comments."""
    out = []
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        if kind == "other":
            raise NotPlain
        out.append(m.group(kind))
    return out


def scalar(kind, token, enum_values=None):
    """The Python value of ``token`` for a field of ``kind`` (``"int32"``, ``"int64"``,
    ``"uint32"``, ``"uint64"``, ``"float"``, ``"double"``, ``"bool"``, ``"enum"``,
    ``"string"``, ``"bytes"``); ``enum_values`` maps an enum's value names to numbers. A float
    is the Python float of the text (a float field rounds it when it is read back)."""
    if kind in INT_RANGES:
        if not _INT.fullmatch(token):
            raise NotPlain
        value = int(token)
        lo, hi = INT_RANGES[kind]
        if not lo <= value <= hi:
            raise NotPlain
        return value
    if kind in ("float", "double"):
        if _FLOAT.fullmatch(token):
            return float(token)
        special = _SPECIAL_FLOATS.get(token.lower())
        if special is None:
            raise NotPlain
        return special
    if kind in ("bool", "enum"):
        value = (_BOOLS if kind == "bool" else enum_values).get(token)
        if value is None:
            raise NotPlain
        return value
    if kind in ("string", "bytes"):
        if token[0] not in "\"'":
            raise NotPlain
        text = token[1:-1]
        return text.encode("utf-8") if kind == "bytes" else text
    raise NotPlain
