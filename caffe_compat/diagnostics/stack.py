"""Where a warning points: the first frame outside some of this project's folders (the
user's call, or the first module of another subpackage), as ``warnings.warn``'s
``stacklevel``."""
from __future__ import annotations

import inspect
import os


def caller_stacklevel(*folders):
    """The ``stacklevel`` for a ``warnings.warn`` made by the function that calls this, that
    points at the first frame whose file is not under ``folders``."""
    roots = tuple(os.path.join(os.path.abspath(f), "") for f in folders)
    level, frame = 1, inspect.currentframe().f_back
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(roots):
        frame = frame.f_back
        level += 1
    return level
