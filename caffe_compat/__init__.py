"""Caffe 1.0 semantics in PyTorch: legacy prototxt, caffemodel and solver files, no Caffe needed.

    >>> import caffe_compat
    >>> net = caffe_compat.Net("deploy.prototxt", "weights.caffemodel", phase="test")
    >>> out = net.forward(data=images)          # dict: output blob name -> tensor
    >>> net.blobs["pool3"].data.shape, net.params["conv1"][0].shape
"""
from .errors import (CaffeCompatError, DataError, NetError, PrototxtError, SolverError,
                     WeightsError)
from .layers import Layer, register_layer, registered_types
from .net import Net
from .solvers import get_solver

__version__ = "0.1.0"

__all__ = ["Net", "get_solver", "Layer", "register_layer", "registered_types",
           "CaffeCompatError", "PrototxtError", "WeightsError", "NetError", "DataError",
           "SolverError"]
