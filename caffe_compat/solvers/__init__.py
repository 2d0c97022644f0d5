"""Caffe's solvers: registry by type name and :func:`get_solver` (pycaffe's ``caffe.get_solver``).

    >>> solver = caffe_compat.get_solver("solver.prototxt", train_source="train.txt")
    >>> solver.solve()                       # or solver.step(100)
    >>> solver.net.params["conv1"][0], solver.iter, solver.lr

Types: SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam (``type: "..."``; the deprecated
``solver_type`` enum is upgraded to these names when the solver file is read).
"""
from __future__ import annotations

import os

from ..errors import SolverError
from ..io import prototxt as prototxt_io
from ..io.upgrade import _SOLVER_TYPE_NAMES
from ..proto import caffe_pb2
import importlib

_SOLVERS = {}

# the engine's solver classes load with torch on first use (module __getattr__ below), so
# that reading a solver file or its learning-rate policy does not import torch
_BUILTIN = ("SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver",
            "AdamSolver")
_LAZY = {"SGDSolver": ".sgd", **dict.fromkeys(_BUILTIN[1:], ".update_rules"),
         **dict.fromkeys(("Solver", "NONE", "SNAPSHOT", "STOP"), ".base")}
_BUILTIN_LOADED = []


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _load_builtin():
    """Register Caffe's six solver types (once, before the first lookup)."""
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED.append(True)
        for name in _BUILTIN:
            cls = __getattr__(name)
            _SOLVERS.setdefault(cls.type_name, cls)

# The legacy SolverParameter.solver_type enum: the type name of each value.
LEGACY_SOLVER_TYPES = _SOLVER_TYPE_NAMES


def register_solver(cls, name=None):
    """Make ``cls`` (a :class:`Solver` subclass) available as solver ``type: name``."""
    _SOLVERS[name or cls.type_name] = cls
    return cls


def registered_solvers():
    _load_builtin()
    return sorted(_SOLVERS)


def solver_class(type_name):
    """The solver class of a Caffe type name ("SGD", "Adam", ...) or legacy enum value/name."""
    _load_builtin()
    if isinstance(type_name, int):
        if type_name not in LEGACY_SOLVER_TYPES:
            raise SolverError(f"unknown legacy solver_type {type_name}")
        type_name = LEGACY_SOLVER_TYPES[type_name]
    name = str(type_name)
    if name not in _SOLVERS and name in caffe_pb2.SolverParameter.SolverType.keys():
        name = LEGACY_SOLVER_TYPES[caffe_pb2.SolverParameter.SolverType.Value(name)]
    try:
        return _SOLVERS[name]
    except KeyError:
        raise SolverError(f"unknown solver type '{type_name}' (known: "
                          f"{', '.join(registered_solvers())})") from None


def get_solver(solver_prototxt, net=None, train_source=None, test_source=None,
               snapshot_prefix=None, sources=None, device=None, **options):
    """A solver of the type named in ``solver_prototxt`` (path or SolverParameter).

    Paths inside the solver (nets, snapshot prefix, weights) are resolved as Caffe does:
    relative to the current working directory. ``net`` replaces the net file; ``train_source``
    / ``test_source`` replace the HDF5 list of every HDF5Data layer of the train / test nets;
    ``sources`` maps a layer name or original source string to a list file. Other keyword
    options are those of :class:`~caffe_compat.solvers.base.Solver` (``weights``,
    ``batch_size``, ``max_iter``, ``caffe_position``, ``log``, ...).
    """
    solver_file = None
    if isinstance(solver_prototxt, caffe_pb2.SolverParameter):
        param = solver_prototxt
    else:
        solver_file = os.fspath(solver_prototxt)
        param = prototxt_io.read_solver(solver_file)
    if param.HasField("solver_type") and not param.HasField("type"):
        legacy, param = param, caffe_pb2.SolverParameter()
        param.CopyFrom(legacy)
        param.ClearField("solver_type")
        param.type = LEGACY_SOLVER_TYPES[legacy.solver_type]
    cls = solver_class(param.type)
    return cls(param, net=net, train_source=train_source, test_source=test_source,
               snapshot_prefix=snapshot_prefix, sources=sources, device=device,
               solver_file=solver_file, **options)


__all__ = ["Solver", "SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver",
           "AdaDeltaSolver", "AdamSolver", "get_solver", "register_solver", "solver_class",
           "registered_solvers", "LEGACY_SOLVER_TYPES", "NONE", "STOP", "SNAPSHOT"]
