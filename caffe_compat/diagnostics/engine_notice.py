"""Which engine runs a net, and why a net left an engine that runs without torch.

pycaffe's forward runs on the array engine (numpy) and cv2.dnn's on the torch-free ONNX path;
a net either does not run there goes to the torch engine, which imports torch (about a second
of a program's start). That move is said once per net file and reason, as an
:class:`EngineFallbackWarning` (filter it with ``warnings.filterwarnings("ignore",
category=EngineFallbackWarning)``); the reason stays readable on the net (pycaffe's
``net.engine`` / ``net.engine_reason``, cv2.dnn's ``net.engine`` / ``net.engine_reason``) and
``caffe-compat layers NET.prototxt`` prints both paths' engines for a definition.
"""
from __future__ import annotations

import warnings

from .stack import caller_stacklevel

_SAID = set()
_LIMIT = 256            # (net, reason) pairs remembered


class EngineFallbackWarning(UserWarning):
    """A net runs on the torch engine where a torch-free engine was tried first."""


def fallback(where, tried, why):
    """Say once that net ``where`` (its file or name) runs on torch, not on ``tried``,
    because of ``why``."""
    key = (str(where), tried, str(why))
    if key in _SAID:
        return
    if len(_SAID) >= _LIMIT:
        _SAID.clear()
    _SAID.add(key)
    warnings.warn(f"{where}: the torch engine runs this net, not {tried} ({why}); torch is "
                  "imported for it", EngineFallbackWarning,
                  stacklevel=caller_stacklevel())
