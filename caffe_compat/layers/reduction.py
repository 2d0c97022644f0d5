"""Reduction: SUM, ASUM (sum of |x|), SUMSQ (sum of x^2) or MEAN over all axes from
``reduction_param.axis`` (default 0) on, times ``coeff``.

The top has shape ``bottom.shape[:axis]``: with the default axis 0 it is a 0-d blob (one value,
no axes). ASUM's gradient at 0 is 0 (Caffe's sign function).
"""
from ..proto import caffe_pb2
from ..rules.fields import declare
from ..rules.reduction import FIELDS, reduction_rule
from .base import Layer
from .registry import register_layer

R = caffe_pb2.ReductionParameter
declare("torch", "Reduction", "ReductionParameter", FIELDS)


@register_layer("Reduction")
class Reduction(Layer):
    rule_of = staticmethod(reduction_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.op, self.axis, self.coeff = self.rule.operation, self.rule.axis, self.rule.coeff

    def forward(self, x):
        flat = x.reshape(tuple(x.shape[:self.axis]) + (-1,))
        if self.op == R.ASUM:
            flat = flat.abs()
        elif self.op == R.SUMSQ:
            flat = flat * flat
        top = flat.sum(-1)
        coeff = self.coeff / flat.shape[-1] if self.op == R.MEAN else self.coeff
        return top if coeff == 1.0 else top * coeff
