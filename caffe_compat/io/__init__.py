"""Caffe file formats: text prototxt nets and solvers, binary caffemodels and solverstates.

The submodules are imported on first use, so ``caffe_compat.io.atomic`` stays light::

    from caffe_compat.io import read_net, read_caffemodel"""
import importlib

_EXPORTS = {
    "prototxt": ("parse_net", "read_net", "parse_solver", "read_solver", "parse_text_message",
                 "to_text", "write_prototxt", "PrototxtWarning"),
    "upgrade": ("upgrade_net", "net_needs_upgrade", "upgrade_solver", "solver_needs_upgrade",
                "UpgradeWarning"),
    "caffemodel": ("read_caffemodel", "parse_caffemodel", "write_caffemodel",
                   "caffemodel_bytes", "blob_to_array", "array_to_blob", "blob_shape",
                   "layer_blobs", "CaffemodelWarning"),
    "solverstate": ("read_solverstate", "parse_solverstate", "write_solverstate",
                    "solverstate_bytes", "history_arrays"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
