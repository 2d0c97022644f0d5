"""Converter registry: Caffe layer type -> the function that writes its ONNX nodes (the ONNX
export's part of :mod:`caffe_compat.rules.registry`).

One converter per Caffe type, registered with :func:`register_converter` (as layers register
with ``register_layer``); users add converters for their own layer types the same way before
exporting. A converter receives a :class:`~caffe_compat.export.graph_builder.LayerContext`
and returns the ONNX value name of each top, in order.

A converter whose layer keeps its items on another axis than 0 (Caffe's recurrent layers: time
on axis 0, streams on axis 1) says so with ``batch_axes``: a function of the built layer giving
``{bottom index: axis}``; a graph input read directly by such a bottom gets its free axis there.
"""
from ..rules import registry
from ..errors import NetError

_CONVERTERS = registry.entries("onnx")
_BATCH_AXES = {}


def register_converter(*type_names, replace=False, batch_axes=None):
    """Function decorator registering an ONNX converter for one or more Caffe type names
    (``batch_axes``: see the module doc)."""

    def wrap(fn):
        for type_name in type_names:
            registry.add("onnx", type_name, fn, replace, "an ONNX converter")
            if batch_axes is not None:
                _BATCH_AXES[type_name] = batch_axes
            else:
                _BATCH_AXES.pop(type_name, None)
        return fn

    return wrap


def converter_for(type_name, layer_name=""):
    """The converter of ``type_name``; a NetError naming the layer when there is none."""
    try:
        return _CONVERTERS[type_name]
    except KeyError:
        raise NetError(f"layer '{layer_name}' (type {type_name}): no ONNX converter for this "
                       "type; export the blobs before it (outputs=[...], --output BLOB) or "
                       "register one with caffe_compat.export.register_converter") from None


def converter_types():
    """Sorted list of the Caffe types that have a converter."""
    return sorted(_CONVERTERS)


def batch_axes(type_name, module):
    """``{bottom index: axis}`` where a layer of ``type_name`` keeps its items off axis 0."""
    fn = _BATCH_AXES.get(type_name)
    return dict(fn(module)) if fn is not None else {}
