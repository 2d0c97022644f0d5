"""The cycle collector and torch's objects: set aside while the program runs, back for its end.

``import torch`` leaves some 170,000 objects tracked by CPython's cycle collector (functions,
classes, module dictionaries), and every full collection walks all of them: 0.1 s each on a
2-core AMD EPYC. A program's own allocations trigger such collections now and then: in the
style-transfer program through CaffeNet 5 full collections and about 1,000 younger ones took
0.55-0.67 s; in Caffe's brewing-logreg example 0.09-0.11 s. With torch's objects set aside
they took 0.18-0.24 s and 0.01 s.

:func:`install` (run when :mod:`caffe_compat` is imported) sets them aside once torch is
loaded: right away if it is, else as soon as its import finishes (a finder on
``sys.meta_path`` that wraps torch's loader once, running its import with automatic collection
paused, and then removes itself). Setting aside is :func:`gc.freeze`, Python's documented way
to keep the collector off long-lived data: every object alive at that moment moves to the
permanent generation. An ``atexit`` callback registered at install, so run after those the
program registers later, puts them back with :func:`gc.unfreeze` before CPython's shutdown,
which then goes as it would have: modules are collected in the usual order, files the program
left open are flushed and ``__del__`` methods run (``tests/caffe_compat/kernels/test_collector.py``).

:class:`Paused` is a block without automatic collections, for work that makes many
objects and no garbage cycles: torch's import (above) and reading a net
(``caffe_compat.dnn.readNetFromCaffe``), whose collections would walk what it makes for
nothing (and, a full one, every object of the program).

The cost: cyclic garbage among the objects alive when torch finished loading (what the
program made before its first use of the engine) is reclaimed at exit, not while the program
runs. Objects made after it are collected as before. ``CAFFE_COMPAT_GC_FREEZE=0`` in the
environment leaves the collector alone.
"""
from __future__ import annotations

import atexit
import gc
import importlib.machinery
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


class _FreezeAfterImport:
    """torch's loader, running the import with automatic collection paused and freezing when it
    is done; the module keeps its own loader afterwards."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        try:
            with Paused():
                self._loader.exec_module(module)
        finally:
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self._loader
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader
        freeze()


class _TorchFinder:
    """Finds torch as the path finder does and wraps its loader (then leaves sys.meta_path)."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        _remove_finder()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _FreezeAfterImport(spec.loader)
        return spec


def _remove_finder():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchFinder)]


def install(environ=None, modules=None):
    """Set torch's objects aside now or once torch is imported (see the module doc); returns
    what it did: ``"frozen"``, ``"waiting"`` (the finder is in place) or ``"off"``."""
    modules = sys.modules if modules is None else modules
    if not enabled(environ):
        return "off"
    if not _state["installed"]:
        _state["installed"] = True
        atexit.register(unfreeze_at_exit)
    if "torch" in modules:
        freeze()
        return "frozen"
    if not any(isinstance(f, _TorchFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchFinder())
    return "waiting"
