"""The converters' registry and the helpers they share (Caffe's parameter defaults, blob
checks, axis rules)."""
from __future__ import annotations

import numpy as np

from ...rules import registry
# Caffe type -> the module of this package that registers its converter, imported the first
# time a net asks for the type (written from the registrations by .index)
from ._modules import MODULES

F32 = np.float32

_CONVERTERS = registry.entries("lite")       # Caffe type -> function writing ONNX nodes
_HOST = registry.entries("lite-host")        # Caffe type -> a numpy step after the ONNX part


class Unsupported(Exception):
    """What the torch-free path does not reproduce for a layer: the net takes the torch path
    (the message goes to the debug log)."""


def register(type_name, host=False, lengths_free=None):
    """Decorator: ``fn`` converts layers of ``type_name``; ``host=True``: ``fn(lp, bottoms,
    blobs)`` returns ``(top shapes, run)``, ``run(arrays) -> arrays`` in numpy.

    ``lengths_free``: ``lengths_free(lp, bottom_shapes)`` gives ``(top shapes, fact)``, the
    layer's rule applied (its refusals raised), where the nodes and values ``fn`` writes
    for bottoms of these ranks and channels are the same for every other bottom shape with
    the same ``fact`` (a hashable: what the graph reads of the lengths; None for nothing), or
    None where these bottoms make it write their lengths. A net whose layers all say so runs a
    new input shape on the plan written for an earlier one
    (:meth:`caffe_compat.lite.LiteNet._plan`); tests/caffe_compat/conformance/
    test_lengths_free.py checks the claims on the grid. :func:`same_shapes` serves the types
    whose tops are their bottoms' shapes."""
    def wrap(fn):
        if lengths_free is not None:
            fn.lengths_free = lengths_free
        (_HOST if host else _CONVERTERS)[type_name] = fn
        return fn
    return wrap


def same_shapes(lp, shapes):
    """``lengths_free`` of a type whose tops have its bottom's shape and whose nodes read no
    length."""
    return [shapes[0]] * max(1, len(lp.top)), None


def lengths_free(lp):
    """The ``lengths_free`` claim of the converter of ``lp``'s type (:func:`register`), or
    None."""
    return getattr(converter(lp.type), "lengths_free", None)


def _load(type_name):
    module = MODULES.get(type_name)
    if module is not None and type_name not in _CONVERTERS and type_name not in _HOST:
        import importlib
        importlib.import_module(f"{__package__}.{module}")


def converter(type_name):
    _load(type_name)
    return _CONVERTERS.get(type_name)


def host_converter(type_name):
    _load(type_name)
    return _HOST.get(type_name)


def registered_types():
    return sorted(MODULES)


def load_all():
    """Import every converter module (the registry's table of all engines asks for it)."""
    for type_name in MODULES:
        _load(type_name)


def param_blob(lp, blobs, i, shape):
    """Blob ``i`` of the layer as a float32 array of ``shape``. A blob in Caffe's legacy 4-D
    form (num, channels, height, width) of the same values is reshaped, as Caffe's
    CopyTrainedLayersFrom accepts it; anything else is the torch path's to report."""
    if blobs is None or i >= len(blobs):
        raise Unsupported(f"layer '{lp.name}': blob {i} not in the caffemodel (the torch path "
                          "fills it by its filler)")
    a = blobs[i]
    shape = tuple(int(d) for d in shape)
    if tuple(a.shape) != shape:
        legacy = (1,) * (4 - len(shape)) + shape if len(shape) <= 4 else None
        if not (a.ndim == 4 and legacy is not None and tuple(a.shape) == legacy):
            raise Unsupported(f"layer '{lp.name}': blob {i} has shape {tuple(a.shape)}, "
                              f"{shape} expected")
        a = a.reshape(shape)
    return np.ascontiguousarray(a, dtype=F32)


def blob_count(lp, blobs, n):
    """The caffemodel holds exactly ``n`` blobs for the layer (Caffe refuses another count)."""
    have = 0 if blobs is None else len(blobs)
    if have != n:
        raise Unsupported(f"layer '{lp.name}': {have} blob(s) in the caffemodel, {n} expected")


def canonical_axis(axis, ndim, lp):
    """Caffe's CanonicalAxisIndex: -ndim <= axis < ndim, negative from the end."""
    if not -ndim <= axis < ndim:
        raise Unsupported(f"layer '{lp.name}': axis {axis} out of range for {ndim} axes")
    return axis % ndim


def four_d(lp, value):
    if len(value.shape) != 4:
        raise Unsupported(f"layer '{lp.name}': a {len(value.shape)}-D input; the converter "
                          "writes 2-D spatial layers (N x C x H x W)")
    return value.shape


def aligned(g, operand, view):
    """``operand`` (a bottom's Value) shaped to broadcast as ``view`` (Caffe's operand view:
    ones, its shape, ones): its own lengths copied (Reshape's 0) and the trailing ones added,
    the leading ones left to broadcasting, so that no length is written (a batch-sized operand
    gives the same node for every batch size)."""
    shape, view = tuple(operand.shape), tuple(view)
    if shape == view:
        return operand
    for trailing in range(len(view) - len(shape), -1, -1):
        lead = len(view) - len(shape) - trailing
        if view[lead:lead + len(shape)] == shape:
            break
    target = np.array([0] * len(shape) + [1] * trailing, np.int64)
    return g.op("Reshape", [operand, g.const(target)])
