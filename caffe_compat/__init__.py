"""Caffe 1.0 semantics in PyTorch: legacy prototxt, caffemodel and solver files, no Caffe needed.

    >>> import caffe_compat
    >>> net = caffe_compat.Net("deploy.prototxt", "weights.caffemodel", phase="test")
    >>> out = net.forward(data=images)          # dict: output blob name -> tensor
    >>> net.blobs["pool3"].data.shape, net.params["conv1"][0].shape

The net, the layers and the solvers (and with them torch) are imported on first use, so that
reading files (``caffe_compat.proto``, ``caffe_compat.io``) stays cheap.
"""
import importlib

from .kernels import collector as _collector
from .parallel import wait_policy as _wait_policy

# libgomp reads its wait policy once, when torch loads it: a bounded spin unless the user chose
_wait_policy.set_default_wait_policy()
# the cycle collector leaves torch's objects alone while the program runs (kernels.collector)
_collector.install()

from .errors import (CaffeCompatError, DataError, NetError, PrototxtError, SolverError,
                     WeightsError)

__version__ = "0.1.0"

# name -> submodule defining it, imported on first access (PEP 562)
_LAZY = {"Net": ".net.core", "get_solver": ".solvers", "Layer": ".layers",
         "register_layer": ".layers", "registered_types": ".layers",
         "PythonLayer": ".layers.python", "reduced_precision": ".inference.precision_runner"}


def __getattr__(name):
    if name in _LAZY:
        with _collector.Loading():       # torch's import, then its objects set aside
            value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'caffe_compat' has no attribute '{name}'")


__all__ = ["Net", "get_solver", "reduced_precision", "Layer", "PythonLayer", "register_layer",
           "registered_types", "CaffeCompatError", "PrototxtError", "WeightsError", "NetError", "DataError",
           "SolverError"]
