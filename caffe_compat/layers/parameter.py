"""Parameter (the rule in :mod:`caffe_compat.rules.parameter`): the top is the blob itself, so
the top's gradient is the blob's gradient."""
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare
from ..rules.parameter import FIELDS, parameter_shape

declare("torch", "Parameter", "ParameterParameter", FIELDS)


@register_layer("Parameter")
class Parameter(Layer):
    blob_names = ("blob",)
    exact_bottoms = 0
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.add_blob("blob", parameter_shape(param))

    def top_shapes(self, bottom_shapes):
        return [tuple(self.blob.shape)]

    def forward(self):
        return self.blob.view_as(self.blob)
