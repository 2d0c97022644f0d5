"""One module per Caffe layer type, or per family of small ones (``neuron``: the element-wise
types; ``rearrange``: those that move values without arithmetic; ``losses``: the losses of one
formula); importing this package registers all of them. Beside them: ``base`` (the Layer
class), ``registry`` and ``fillers`` (Caffe's weight fillers)."""
import importlib
import pkgutil

from .base import Layer
from .registry import layer_class, register_layer, registered_types

_INFRASTRUCTURE = {"base", "registry", "fillers"}

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["Layer", "layer_class", "register_layer", "registered_types"]
