"""One module per Caffe layer type; importing this package registers all of them. Beside them:
``base`` (the Layer class), ``registry``, ``common`` and ``fillers`` (Caffe's weight fillers)."""
import importlib
import pkgutil

from .base import Layer
from .registry import layer_class, register_layer, registered_types

_INFRASTRUCTURE = {"base", "registry", "common", "fillers"}

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["Layer", "layer_class", "register_layer", "registered_types"]
