"""libgomp's wait policy, set before torch loads (the rule is :mod:`.threads`'): idle OpenMP
threads spin :data:`DEFAULT_SPINCOUNT` iterations before they sleep instead of libgomp's
300000 (about a millisecond in which a core another process needs is burned), unless the user
set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` or torch is loaded already. A module of its own
so that ``import caffe_compat`` sets it without importing the thread policy's machinery
(a one-shot cv2.dnn program never uses it)."""
from __future__ import annotations

import os
import sys

# libgomp's spin before an idle thread sleeps, in iterations (its default is 300000 when
# OMP_WAIT_POLICY is unset, 0 with PASSIVE): short enough not to hold a core another process
# needs for long, long enough that the next operator of a forward finds its threads awake
DEFAULT_SPINCOUNT = "10000"


def set_default_wait_policy(environ=None, modules=None):
    """Put ``GOMP_SPINCOUNT`` = :data:`DEFAULT_SPINCOUNT` into the environment when neither it
    nor ``OMP_WAIT_POLICY`` is set and torch is not loaded yet (libgomp reads them once, when
    it loads). Returns True when it set it."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "torch" in modules or "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return False
    environ["GOMP_SPINCOUNT"] = DEFAULT_SPINCOUNT
    return True
