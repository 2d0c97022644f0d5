"""The per-layer emitters of the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`),
one module per layer type, registered by name in :data:`program.EMITTERS` when imported."""
from . import (accuracy, euclidean_loss, hdf5_data, inner_product, input,  # noqa: F401
               relu, sigmoid, softmax_with_loss, split, tanh)
from .program import EMITTERS, OPS, Program, Refused, address, infer

__all__ = ["EMITTERS", "OPS", "Program", "Refused", "address", "infer"]
