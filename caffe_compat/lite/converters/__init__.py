"""One module per Caffe layer type of the torch-free path, each registering a function that
writes the layer as ONNX nodes (or, for a layer with data-dependent results, a numpy step run
after the ONNX part). Importing this package registers all of them; a type without a module
here sends the net to the torch path.

A converter is ``convert(g, lp, bottoms, blobs) -> [Value, ...]``: ``g`` the
:class:`~caffe_compat.lite.graph.Graph` being written, ``lp`` the layer's LayerParameter,
``bottoms`` the :class:`~caffe_compat.lite.graph.Value` of each bottom (name, shape, and the
array when it is a constant), ``blobs`` the layer's arrays from the caffemodel (None when the
file has none for it). It raises :class:`Unsupported` for anything it does not reproduce.
"""
import importlib
import pkgutil

from ._common import Unsupported, converter, host_converter, register, registered_types

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["Unsupported", "converter", "host_converter", "register", "registered_types"]
