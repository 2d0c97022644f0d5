"""Emitter registry: Caffe layer type -> the function that writes its PyTorch source (the
PyTorch-source export's part of :mod:`caffe_compat.rules.registry`).

One emitter per Caffe type (as the ONNX converters of :mod:`caffe_compat.export.registry`),
registered with :func:`register_emitter`; users add emitters for their own types the same way
before exporting. An emitter receives a :class:`~caffe_compat.export.pytorch.codegen.EmitContext`
and returns the Python expression of its top (a string; a layer with several tops returns one
expression per top, or one expression that unpacks into them).
"""
from ...rules import registry
from ...errors import NetError

_EMITTERS = registry.entries("pytorch-source")


def register_emitter(*type_names, replace=False):
    """Function decorator registering a PyTorch source emitter for one or more Caffe types."""

    def wrap(fn):
        for type_name in type_names:
            registry.add("pytorch-source", type_name, fn, replace, "a PyTorch emitter")
        return fn

    return wrap


def emitter_for(type_name, layer_name=""):
    """The emitter of ``type_name``; a NetError naming the layer when there is none."""
    try:
        return _EMITTERS[type_name]
    except KeyError:
        raise NetError(f"layer '{layer_name}' (type {type_name}): no PyTorch emitter for this "
                       f"type (types with one: {', '.join(emitter_types())}); export the "
                       "blobs before it (outputs=[...], --output BLOB) or register one with "
                       "caffe_compat.export.pytorch.register_emitter") from None


def emitter_types():
    """Sorted list of the Caffe types that have a PyTorch emitter."""
    return sorted(_EMITTERS)
