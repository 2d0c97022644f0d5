"""Layer registry: Caffe type name -> layer class (Caffe's LayerRegistry), the torch engine's
part of :mod:`caffe_compat.rules.registry`.

Every layer module registers its class with :func:`register_layer`; users register their own
types the same way before building a net.
"""
import contextlib

from ..rules import registry
from ..diagnostics.suggest import did_you_mean
from ..errors import NetError

_REGISTRY = registry.entries("torch")


def register_layer(type_name, *, replace=False):
    """Class decorator registering a :class:`~caffe_compat.layers.base.Layer` for ``type_name``."""

    def wrap(cls):
        if type_name in _REGISTRY and not replace and _REGISTRY[type_name] is not cls:
            raise ValueError(f"layer type '{type_name}' is already registered "
                             f"({_REGISTRY[type_name].__module__}); pass replace=True")
        cls.type_name = type_name
        _REGISTRY[type_name] = cls
        return cls

    return wrap


@contextlib.contextmanager
def registered_while(type_name, cls):
    """``cls`` registered for ``type_name`` inside the block only: a type no definition names,
    such as the stand-in caffe_compat.dnn builds for a class given to cv2.dnn_registerLayer,
    stays out of :func:`registered_types` (converters, suggestions, fuzzing)."""
    if type_name in _REGISTRY:
        raise ValueError(f"layer type '{type_name}' is already registered")
    cls.type_name = type_name
    _REGISTRY[type_name] = cls
    try:
        yield
    finally:
        _REGISTRY.pop(type_name, None)


def layer_class(type_name, layer_name=""):
    """The class registered for ``type_name``; a NetError naming the layer if there is none,
    with the closest registered type names ("did you mean 'ReLU'?")."""
    try:
        return _REGISTRY[type_name]
    except KeyError:
        pass
    hint = did_you_mean(type_name, _REGISTRY)
    err = NetError(f"layer '{layer_name}': unknown layer type '{type_name}'"
                   + (f"; {hint}" if hint else "; no registered type is close")
                   + f" ({len(_REGISTRY)} types are registered: caffe_compat.registered_types() "
                   "lists them; register new ones with caffe_compat.register_layer)")
    err.field = "type"     # the position to report: the layer's `type:` line
    raise err


def registered_types():
    """Sorted list of the registered type names."""
    return sorted(_REGISTRY)
