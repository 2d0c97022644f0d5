"""The cycle collector and torch's objects: set aside while the program runs, back for its end.

``import torch`` leaves some 170,000 objects tracked by CPython's cycle collector, and every
full collection walks them all (figures: docs/benchmarks.md, "The cycle collector keeps off
torch's objects"). :func:`install` (run when :mod:`caffe_compat` is imported) sets them aside
with :func:`gc.freeze` once torch is loaded: right away if it is, else at the end of a
:class:`Loading` block (the lazy import of ``caffe_compat.Net`` and the solvers; reading a
net through ``caffe_compat.dnn``) or at a net's construction. An ``atexit`` callback
registered at install (so run after the program's own) puts them back with
:func:`gc.unfreeze` before CPython's shutdown, which then goes as it would have
(``tests/caffe_compat/kernels/test_collector.py``).

:class:`Paused` is a block without automatic collections, for work that makes many objects
and no garbage cycles: torch's import and reading a net.

The cost: cyclic garbage among the objects alive when they are set aside is reclaimed at
exit, not while the program runs. ``CAFFE_COMPAT_GC_FREEZE=0`` leaves the collector alone."""
from __future__ import annotations

import atexit
import gc
import os
import sys

ENV = "CAFFE_COMPAT_GC_FREEZE"
_state = {"installed": False, "frozen": False}


def enabled(environ=None):
    """False when the environment turns the freeze off (``CAFFE_COMPAT_GC_FREEZE=0``)."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV, "").strip().lower() not in ("0", "off", "false", "no")


def freeze():
    """Move every tracked object to the permanent generation (once)."""
    if not _state["frozen"]:
        gc.freeze()
        _state["frozen"] = True


def unfreeze_at_exit():
    """Put the frozen objects back before the shutdown (registered with atexit)."""
    if _state["frozen"]:
        gc.unfreeze()
        _state["frozen"] = False


class Paused:
    """A ``with`` block without automatic collections (the collector's state as it was after
    it): for work that makes many objects and no garbage cycles, whose collections would
    only walk them (torch's import; reading a net, :mod:`caffe_compat.dnn.readers`)."""

    def __enter__(self):
        self._was = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc):
        if self._was:
            gc.enable()
        return False


class Loading(Paused):
    """A ``with`` block of the package's own that may import torch (a lazy import of the
    engine, reading a net): no automatic collections during it, and torch's objects set aside
    after it if torch is loaded then."""

    def __exit__(self, *exc):
        super().__exit__(*exc)
        freeze_if_loaded()
        return False


def freeze_if_loaded(modules=None):
    """Set torch's objects aside if torch is loaded (once; a flag read after that): at the
    package's entry points, a :class:`Loading` block's end and a net's construction."""
    modules = sys.modules if modules is None else modules
    if _state["installed"] and not _state["frozen"] and "torch" in modules:
        freeze()


def install(environ=None, modules=None):
    """Set torch's objects aside now if torch is loaded, else at the first of the package's
    entry points that finds it loaded (see the module doc); returns what it did:
    ``"frozen"``, ``"waiting"`` or ``"off"``."""
    if not enabled(environ):
        return "off"
    if not _state["installed"]:
        _state["installed"] = True
        atexit.register(unfreeze_at_exit)
    freeze_if_loaded(modules)
    return "frozen" if _state["frozen"] else "waiting"
