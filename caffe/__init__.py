"""pycaffe's ``caffe`` package, over the ``caffe_compat`` engine: no Caffe build needed.

    >>> import caffe
    >>> net = caffe.Net("deploy.prototxt", "weights.caffemodel", caffe.TEST)
    >>> net.blobs["data"].data[...] = batch          # numpy views of the net's memory
    >>> out = net.forward()
    >>> solver = caffe.SGDSolver("solver.prototxt"); solver.step(10)

The public surface is pycaffe's (Caffe 1.0 and its later master): ``Net``, the solvers,
``Layer`` (Python layers), ``io``, ``net_spec`` (``NetSpec``, ``layers``, ``params``,
``to_proto``), ``draw``, ``coord_map``, ``Classifier``, ``Detector``, ``Timer`` and the module
functions. Submodules and the engine (hence torch) are imported on first use, so
``import caffe`` itself stays cheap."""
from __future__ import annotations

import importlib

from ._mode import (TEST, TRAIN, Timer, __version__, has_nccl, init_log, log,
                    set_device, set_mode_cpu, set_mode_gpu, set_multiprocess,
                    set_random_seed, set_solver_count, set_solver_rank, solver_count,
                    solver_rank)

# attribute -> module that defines it (imported on first access, PEP 562)
_LAZY = {
    **dict.fromkeys(("Net", "Blob", "Layer", "layer_type_list"), "caffe._net"),
    **dict.fromkeys(("SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver",
                     "AdaDeltaSolver", "AdamSolver", "get_solver", "NCCL"), "caffe._solver"),
    **dict.fromkeys(("NetSpec", "layers", "params", "to_proto"), "caffe.net_spec"),
    "Classifier": "caffe.classifier", "Detector": "caffe.detector",
}
_SUBMODULES = {"io", "net_spec", "draw", "coord_map", "proto", "classifier", "detector",
               "pycaffe", "_caffe"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"caffe.{name}")
    raise AttributeError(f"module 'caffe' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = ["TRAIN", "TEST", "__version__", "Net", "Layer", "Timer", "SGDSolver",
           "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver", "AdamSolver",
           "NCCL", "get_solver", "layer_type_list", "set_mode_cpu", "set_mode_gpu",
           "set_device", "set_random_seed", "init_log", "log", "solver_count",
           "set_solver_count", "solver_rank", "set_solver_rank", "set_multiprocess",
           "has_nccl", "Classifier", "Detector", "NetSpec", "layers", "params", "to_proto",
           "io", "draw", "net_spec", "coord_map", "proto"]
