"""Export a Caffe net to ONNX, TorchScript or plain PyTorch source.

    from caffe_compat import Net
    from caffe_compat.export import export_onnx
    net = Net("deploy.prototxt", "weights.caffemodel", phase="test")
    export_onnx(net, "model.onnx")            # opset 17, batch axis free, checked

``export_onnx`` writes ONNX nodes layer by layer through one converter per Caffe type
(:mod:`caffe_compat.export.converters`, extensible with :func:`register_converter`);
``export_torchscript`` traces the net's own layer modules; ``export_pytorch`` writes a folder with
``model.py`` (one torch-only ``nn.Module``, one emitter per Caffe type: :mod:`.pytorch`),
``weights.safetensors`` and a README, checked in a process that cannot import caffe_compat.
All keep the deploy file's spatial geometry and leave the batch size free.
"""
from .onnx_export import build_onnx, compare_onnxruntime, default_outputs, export_onnx
from .registry import converter_types, register_converter
from .pytorch import emitter_types, export_pytorch, register_emitter
from .torchscript import ExportModule, export_torchscript

FORMATS = ("onnx", "torchscript", "pytorch")

__all__ = ["export_onnx", "build_onnx", "compare_onnxruntime", "default_outputs",
           "export_torchscript", "ExportModule", "register_converter", "converter_types",
           "export_pytorch", "register_emitter", "emitter_types", "FORMATS"]
