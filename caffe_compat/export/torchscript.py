"""TorchScript export: the net's own layer modules, traced.

:class:`ExportModule` is a traceable ``forward(*inputs) -> output(s)`` view of a test-phase
:class:`~caffe_compat.Net` restricted to the layers the outputs depend on (the selection of
:func:`~caffe_compat.export.onnx_export.needed_layers`). Tracing fixes shape-dependent geometry
(pooling sizes) for the example's spatial size; the batch size stays free. Layers whose forward
leaves torch (the detection layers compute in numpy) cannot be traced: exporting them is an
error naming the layer, with the ONNX export as the way out.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ..errors import NetError
from ..io.atomic import atomic_path
from .onnx_export import default_outputs, needed_layers

# forward passes outside torch (numpy loops over boxes and ROIs): a trace would freeze them
UNTRACEABLE = frozenset({"DetectionOutput", "Proposal", "ROIPooling", "PSROIPooling"})


class ExportModule(nn.Module):
    """``forward(*inputs)`` running the layers that ``outputs`` need, in the net's order; one
    output gives a tensor, several a tuple. ``input`` / ``output`` name a single blob (the
    form the paper's nets use)."""

    def __init__(self, net, input=None, output=None, outputs=None):
        super().__init__()
        if outputs is None:
            outputs = [output] if output is not None else default_outputs(net)
        self.net = net
        self.output_names = list(outputs)
        self._steps, needed_inputs = needed_layers(net, self.output_names)
        if input is not None:
            if input not in net.inputs:
                raise NetError(f"net '{net.name}' has no input blob '{input}' (inputs: "
                               f"{net.inputs})")
            extra = [b for b in needed_inputs if b != input]
            if extra:
                raise NetError(f"net '{net.name}': blob(s) {extra} needed for "
                               f"{self.output_names} are inputs too; only '{input}' is exported")
            needed_inputs = [input]
        self.input_names = needed_inputs
        self.input_name = needed_inputs[0] if needed_inputs else None
        self.output_name = self.output_names[0]
        self.input_shape = tuple(net.blob_shape(self.input_name)) if self.input_name else ()

    def forward(self, *inputs):
        values = dict(zip(self.input_names, inputs))
        for node in self._steps:
            module = self.net.layer(node.name)
            tops = module(*[values[b] for b in node.bottoms])
            values.update(zip(node.tops, (tops,) if isinstance(tops, torch.Tensor) else tops))
        outs = tuple(values[o] for o in self.output_names)
        return outs[0] if len(outs) == 1 else outs


def example_inputs(module, batch=2, seed=0):
    """Uniform [0, 1) inputs of ``batch`` items for ``module``'s input blobs."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in module.input_names:
        shape = tuple(module.net.blob_shape(b))
        shape = (batch,) + shape[1:] if shape else shape
        out.append(torch.rand(shape, generator=g, dtype=torch.float32))
    return tuple(out)


def trace(net, outputs=None, input=None, output=None):
    """``(module, traced, example)`` for the layers ``outputs`` need."""
    module = ExportModule(net, input=input, output=output, outputs=outputs).eval()
    for node in module._steps:
        if node.type in UNTRACEABLE:
            raise NetError(f"layer '{node.name}' (type {node.type}) computes outside torch and "
                           "cannot be traced to TorchScript; export to ONNX, or export the "
                           "blobs before it")
    example = example_inputs(module)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # torch 2.9+ marks TorchScript deprecated; tracing still works and is what is asked for
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        traced = torch.jit.trace(module, example, check_trace=False)
    return module, traced, example


def export_torchscript(net, path, outputs=None, input=None, output=None):
    """A traced TorchScript module (``torch.jit.load(path)(*inputs)``), written atomically."""
    _, traced, _ = trace(net, outputs, input, output)
    with atomic_path(path, suffix=".pt") as tmp:
        traced.save(tmp)
    return path
