"""A quick reader for the common part of protobuf's text format, for well-formed prototxts.

Caffe reads a prototxt with protobuf's C++ text parser; Python's ``text_format.Parse`` walks
the text token by token (tens of ms for GoogLeNet's deploy net: docs/benchmarks.md).
:func:`parse` reads the text with the protobuf-free reader
(:mod:`caffe_compat.io.protobuf_free.text`: one regular expression, the forms prototxts are
written in) and copies what it read into the protobuf message:

- ``name: value`` and ``name { ... }`` / ``name: { ... }`` / ``name < ... >``, ``#`` comments,
  ``,`` or ``;`` after a field;
- decimal integers, decimal floats (``1``, ``-0.5``, ``.5``, ``1e-4``, ``2.``), ``inf`` /
  ``nan`` in float fields, ``true`` / ``false`` / ``True`` / ``False`` / ``t`` / ``f`` /
  ``1`` / ``0``, enum value names, single- or double-quoted strings without escapes.

Anything else (escapes, adjacent strings, ``[a, b]`` lists, hexadecimal or octal numbers, an
enum by number, a ``1.0f`` suffix, extensions, an unknown field, a non-repeated field given
twice, a required field missing, a value of the wrong kind or out of range) makes it return
False, and the caller parses with ``text_format.Parse``, which gives the same message or the
error to report (``tests/caffe_compat/test_fast_text.py`` checks every prototxt the project
holds and seeded mutations of them)."""
from __future__ import annotations

from caffe_compat.io.protobuf_free import text as _plain_text
from caffe_compat.io.protobuf_free.message import Message


def _copy(read, message):
    """The fields of ``read`` (a protobuf-free Message) set on the protobuf ``message``."""
    for name, value in vars(read).items():
        if type(value) is list:
            if value and type(value[0]) is Message:
                add = getattr(message, name).add
                for item in value:
                    _copy(item, add())
            else:
                getattr(message, name).extend(value)
        elif type(value) is Message:
            child = getattr(message, name)
            child.SetInParent()
            _copy(value, child)
        elif name != "_type":
            setattr(message, name, value)


def parse(text, message):
    """Parse ``text`` into ``message`` (cleared first) and return True, or return False (the
    message then holds nothing) where the text uses a form this reader leaves to
    ``text_format.Parse`` (module doc)."""
    message.Clear()
    read = _plain_text.parse(text, message.DESCRIPTOR.full_name.partition(".")[2])
    if read is None:
        return False
    try:
        _copy(read, message)
    except (ValueError, TypeError):                 # a value protobuf refuses: its error
        message.Clear()
        return False
    return True
