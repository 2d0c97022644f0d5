"""A prototxt's text, decoded as UTF-8, with the errors the readers give (a missing file, a
folder, a binary file given as text), without protobuf: the readers of
:mod:`caffe_compat.io.prototxt` and the light reader (:mod:`caffe_compat.io.protobuf_free`) both start
here."""
from __future__ import annotations

import os

from caffe_compat.errors import PrototxtError, UnopenedPrototxtError
from caffe_compat.io.binary_file import read_errors


def _decode(data, filename):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PrototxtError(
            f"{filename}:{line}:{column}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start}); a binary file such as a .caffemodel or .solverstate?"
        ) from None


def read_text_file(path, what="prototxt"):
    """The UTF-8 text of ``path``; PrototxtError naming the path when it cannot be read."""
    path = os.fspath(path)
    with read_errors(path, what, UnopenedPrototxtError), open(path, "rb") as f:
        data = f.read()
    return _decode(data, path)
