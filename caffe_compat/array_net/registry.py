"""Layer type name -> array layer class (:func:`register`; the array engine's part of
:mod:`caffe_compat.rules.registry`), and the refusal every builder and
layer raises for what it does not cover (:class:`Unsupported`)."""
from __future__ import annotations

from ..rules import registry


class Unsupported(Exception):
    """This net, layer or call is not one the array engine runs (the torch engine does)."""


_TYPES = registry.entries("array")


def register(type_name):
    """Class decorator: the array layer of Caffe's layer type ``type_name``."""
    def wrap(cls):
        _TYPES[type_name] = cls
        cls.type = type_name
        return cls
    return wrap


def layer_class(type_name):
    """The array layer class of ``type_name``; :class:`Unsupported` for any other type."""
    registry.load("array")
    try:
        return _TYPES[type_name]
    except KeyError:
        raise Unsupported(f"layer type {type_name}") from None


def registered_types():
    """The layer types the array engine runs, sorted."""
    return registry.types("array")
