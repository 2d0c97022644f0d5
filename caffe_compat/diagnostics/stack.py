"""Where a warning points: the first frame outside some of this project's folders (the
user's call, or the first module of another subpackage), as ``warnings.warn``'s
``stacklevel``."""
from __future__ import annotations

import inspect
import os

# this package and pycaffe's (``caffe/`` beside it)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = (_PACKAGE, os.path.join(os.path.dirname(_PACKAGE), "caffe"))


def caller_stacklevel(*folders):
    """The ``stacklevel`` for a ``warnings.warn`` made by the function that calls this, that
    points at the first frame whose file is not under ``folders`` (default :data:`OURS`: the
    user's call)."""
    roots = tuple(os.path.join(os.path.abspath(f), "") for f in folders or OURS)
    level, frame = 1, inspect.currentframe().f_back
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(roots):
        frame = frame.f_back
        level += 1
    return level
