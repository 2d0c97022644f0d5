"""Export a Caffe net to ONNX, TorchScript or plain PyTorch source.

    from caffe_compat import Net
    from caffe_compat.export import export_onnx
    net = Net("deploy.prototxt", "weights.caffemodel", phase="test")
    export_onnx(net, "model.onnx")            # opset 17, batch axis free, checked

``export_onnx`` writes ONNX nodes with the torch-free path's converters and writer
(:mod:`caffe_compat.onnx_path.converters`; :func:`register_converter` adds one);
``export_torchscript`` traces the net's own layer modules; ``export_pytorch`` writes a folder
with ``model.py`` (one torch-only ``nn.Module``: :mod:`.pytorch`), ``weights.safetensors`` and
a README, checked in a process that cannot import caffe_compat. All keep the deploy file's
spatial geometry and leave the batch size free.
"""
import importlib

FORMATS = ("onnx", "torchscript", "pytorch")

# name -> (module that registers what it needs, module that defines it): imported on first
# use (PEP 562), so that the command line's ``export`` entry costs no torch import
_LAZY = {
    "export_onnx": (".onnx_export", ".onnx_export"),
    "build_onnx": (".onnx_export", ".onnx_export"),
    "compare_onnxruntime": (".onnx_export", ".onnx_export"),
    "default_outputs": (".onnx_export", ".onnx_export"),
    "register_converter": (".onnx_export", ".registry"),
    "converter_types": (".onnx_export", ".registry"),
    "export_pytorch": (".pytorch", ".pytorch"),
    "register_emitter": (".pytorch", ".pytorch"),
    "emitter_types": (".pytorch", ".pytorch"),
    "ExportModule": (".torchscript", ".torchscript"),
    "export_torchscript": (".torchscript", ".torchscript"),
}


def __getattr__(name):
    if name in _LAZY:
        loads, defines = _LAZY[name]
        importlib.import_module(loads, __name__)
        value = getattr(importlib.import_module(defines, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'caffe_compat.export' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["export_onnx", "build_onnx", "compare_onnxruntime", "default_outputs",
           "export_torchscript", "ExportModule", "register_converter", "converter_types",
           "export_pytorch", "register_emitter", "emitter_types", "FORMATS"]
