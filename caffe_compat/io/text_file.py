"""A prototxt's text, decoded as UTF-8, with the errors the readers give (a missing file, a
folder, a binary file given as text), without protobuf: the readers of
:mod:`caffe_compat.io.prototxt` and the light reader (:mod:`caffe_compat.io.protobuf_free`) both start
here."""
from __future__ import annotations

import os
import re

from caffe_compat.errors import PrototxtError, UnopenedPrototxtError
from caffe_compat.io.binary_file import read_errors


# a string or a comment (whose bytes Caffe's text reader skips, in whatever encoding)
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*')


def _decode(data, filename, hint="a binary file such as a .caffemodel or .solverstate?"):
    """``data`` as UTF-8 text; a comment in another encoding (GBK, cp1252) read as Caffe reads
    it, as nothing; bytes elsewhere that are not UTF-8 refused naming line, column and ``hint``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = _STRING_OR_COMMENT.sub(lambda m: "#" if m[0][0] == "#" else m[0],
                                      data.decode("utf-8", "surrogateescape"))
    bad = re.search("[\udc80-\udcff]", text)
    if bad is None:
        return text
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    raise PrototxtError(f"{filename}:{line}:{column}: not UTF-8 text (byte "
                        f"0x{ord(bad[0]) - 0xdc00:02x}); {hint}")


def read_text_file(path, what="prototxt"):
    """The UTF-8 text of ``path``; PrototxtError naming the path when it cannot be read."""
    path = os.fspath(path)
    with read_errors(path, what, UnopenedPrototxtError), open(path, "rb") as f:
        data = f.read()
    return _decode(data, path)
