"""ONNX converters, one per Caffe layer type, grouped by family; importing this package
registers all of them (see :mod:`caffe_compat.export.registry`)."""
import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
