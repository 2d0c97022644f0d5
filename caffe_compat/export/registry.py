"""Converter registry: Caffe layer type -> the function that writes its ONNX nodes.

One converter per Caffe type, registered with :func:`register_converter` (as layers register
with ``register_layer``); users add converters for their own layer types the same way before
exporting. A converter receives a :class:`~caffe_compat.export.graph_builder.LayerContext`
and returns the ONNX value name of each top, in order.
"""
from ..errors import NetError

_CONVERTERS = {}


def register_converter(*type_names, replace=False):
    """Function decorator registering an ONNX converter for one or more Caffe type names."""

    def wrap(fn):
        for type_name in type_names:
            if type_name in _CONVERTERS and not replace and _CONVERTERS[type_name] is not fn:
                raise ValueError(f"an ONNX converter for layer type '{type_name}' is already "
                                 f"registered ({_CONVERTERS[type_name].__module__}); pass "
                                 "replace=True")
            _CONVERTERS[type_name] = fn
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
