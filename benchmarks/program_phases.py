"""Where a whole program's time goes, by phase: runs a program file under timing hooks and
writes ``{phase: seconds}`` as JSON (used by ``bench_programs.py --profile``).

    python benchmarks/program_phases.py OUT.json PROGRAM.py [ARGS...]

Phases (each second counted once, in the innermost phase active at that moment, except that
a test pass keeps everything beneath it):

- ``imports``: executing modules (every import, wherever it happens);
- ``loading``: building nets (``caffe_compat.Net``) and reading weights into them;
- ``forward`` / ``backward``: pycaffe's passes (``Stepwise.forward`` / ``backward``) and the
  solver's forward-backward on its training plan (``forward+backward``);
- ``data``: data layers producing a batch (inside a forward: taken out of it);
- ``update``: the solver's ``apply_update``;
- ``test``: the solver's test passes (``Solver.test``), everything in them;
- ``other``: the rest of the program (its own Python, the solver loop, writing files);
- ``start-up``: the interpreter before this script runs (the runner adds it: the process's
  wall time minus the time seen here).

The hooks wrap functions as their modules are imported (a wrapper on the import system), so
the program imports nothing it would not import by itself.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import runpy
import sys
import time

_clock = time.perf_counter
_T0 = _clock()

# (module, class name or None for every class of the module with the attribute, method, phase)
HOOKS = (
    ("caffe_compat.net.core", "Net", "__init__", "loading"),
    ("caffe_compat.net.core", "Net", "copy_from", "loading"),
    ("caffe_compat.net.stepwise", "Stepwise", "forward", "forward"),
    ("caffe_compat.net.stepwise", "Stepwise", "backward", "backward"),
    ("caffe_compat.net.train_plan", "TrainPlan", "forward_backward", "forward+backward"),
    ("caffe_compat.net.fast_step", None, "forward_backward", "forward+backward"),
    ("caffe_compat.net.fast_step", None, "forward", "forward"),
    ("caffe_compat.solvers.testing", "TestPassMixin", "test", "test"),
    ("caffe_compat.solvers.sgd", "SGDSolver", "apply_update", "update"),
    ("caffe_compat.solvers.update_rules", None, "apply_update", "update"),
)
DATA_MODULES = ("caffe_compat.layers.hdf5_data", "caffe_compat.layers.data",
                "caffe_compat.layers.memory_data", "caffe_compat.layers.image_data")
ABSORBING = {"test"}

totals = {}
_stack = []            # [phase, start, child seconds]


def _enter(phase):
    _stack.append([phase, _clock(), 0.0])


def _leave():
    phase, start, child = _stack.pop()
    spent = _clock() - start
    totals[phase] = totals.get(phase, 0.0) + spent - child
    if _stack:
        _stack[-1][2] += spent


def _absorbed():
    return any(frame[0] in ABSORBING for frame in _stack)


def _wrap(fn, phase):
    if getattr(fn, "_phase", None):
        return fn

    def timed(*args, **kwargs):
        if _absorbed():
            return fn(*args, **kwargs)
        _enter(phase)
        try:
            return fn(*args, **kwargs)
        finally:
            _leave()
    timed._phase = phase
    timed.__name__ = getattr(fn, "__name__", "timed")
    timed.__doc__ = getattr(fn, "__doc__", None)
    timed.__wrapped__ = fn
    return timed


def _patch(module):
    name = module.__name__
    for mod, cls, attr, phase in HOOKS:
        if mod != name:
            continue
        classes = [getattr(module, cls, None)] if cls else \
            [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == name]
        for c in classes:
            if c is not None and attr in vars(c):
                setattr(c, attr, _wrap(vars(c)[attr], phase))
    if name in DATA_MODULES:
        for v in list(vars(module).values()):
            if isinstance(v, type) and v.__module__ == name and "forward" in vars(v) and \
                    getattr(v, "is_data", False):
                v.forward = _wrap(vars(v)["forward"], "data")


class _TimedLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _enter("imports")
        try:
            self._loader.exec_module(module)
        finally:
            _leave()
        _patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _TimedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _TimedLoader(spec.loader)
                return spec
        return None


def main(argv):
    out, program = argv[0], argv[1]
    sys.meta_path.insert(0, _TimedFinder())
    sys.argv[:] = [program] + argv[2:]
    sys.path[0] = __import__("os").path.dirname(__import__("os").path.abspath(program))
    total = _clock()
    try:
        runpy.run_path(program, run_name="__main__")
    finally:
        end = _clock()
        seen = end - _T0
        spent = sum(totals.values())
        totals["other"] = totals.get("other", 0.0) + seen - spent
        totals["_seen"] = seen
        totals["_script"] = total - _T0
        with open(out, "w") as f:
            json.dump(totals, f)


if __name__ == "__main__":
    main(sys.argv[1:])
