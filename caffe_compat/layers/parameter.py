"""Parameter: no bottoms; its one top is its one parameter blob of ``parameter_param.shape``
(zeros unless weights are loaded: Caffe uses no filler here). The top's gradient is the blob's
gradient."""
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Parameter", "ParameterParameter", {"shape"})


@register_layer("Parameter")
class Parameter(Layer):
    blob_names = ("blob",)
    exact_bottoms = 0
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        pp = param.parameter_param
        if not pp.HasField("shape"):
            self.fail("parameter_param { shape { dim: ... } } is required")
        shape = tuple(int(d) for d in pp.shape.dim)
        if any(d < 0 for d in shape):
            self.fail(f"negative dimension in parameter_param.shape {shape}")
        self.add_blob("blob", shape)

    def top_shapes(self, bottom_shapes):
        return [tuple(self.blob.shape)]

    def forward(self):
        return self.blob.view_as(self.blob)
