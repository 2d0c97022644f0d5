"""Caffe nets run on numpy arrays: pycaffe's forward of a deploy net without torch.

A net whose every layer this package knows (:mod:`.layers`, one module per type) in the forms
it knows is built here: its blobs and parameters are float32 numpy arrays, its forward is
Caffe's Forward_cpu per layer on the project's compiled kernels (:mod:`caffe_compat.kernels`:
im2col and OpenBLAS's summation order for Convolution and InnerProduct, Caffe's MAX pooling and
ACROSS_CHANNELS LRN loops), so a program that reads a net, fills its input and calls
``forward`` never loads torch (about 2 s of start-up). Anything else (another layer type or
form, a loss, a backward, a solver) is refused with :class:`Unsupported` at build time, or is
the caller's cue to hand the net to the torch engine (``caffe._net``), whose errors and
behaviour then apply unchanged.
"""
from .registry import Unsupported, layer_class, registered_types
from .net import ArrayNet, build_array_net

__all__ = ["ArrayNet", "Unsupported", "build_array_net", "layer_class", "registered_types"]
