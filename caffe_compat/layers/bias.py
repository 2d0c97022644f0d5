"""Bias: ``top = bottom + b`` with ``b`` broadcast over the bottom axes ``[axis, axis + ndim(b))``.

``b`` is the second bottom, or a learned blob of shape ``bottom.shape[axis : axis + num_axes]``
(``num_axes`` default 1, -1 = to the end, 0 = a scalar) filled by ``bias_param.filler`` (default
constant 0). ``axis`` defaults to 1; a scalar ``b`` ignores it, as in Caffe.
"""
from ..rules.bias import FIELDS, FILLERS, bias_rule
from ..rules.fields import declare
from .base import Layer
from .registry import register_layer


declare("torch", "Bias", "BiasParameter", FIELDS | FILLERS)


@register_layer("Bias")
class Bias(Layer):
    rule_of = staticmethod(bias_rule)
    rule_reads_bottoms = True
    blob_names = ("bias",)
    min_bottoms = 1
    max_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        for shape in self.rule.param_shapes():
            self.add_blob("bias", shape)

    def forward(self, x, b=None):
        b = self.bias if b is None else b
        return x + b.reshape(self.rule.view(tuple(x.shape), tuple(b.shape)))
