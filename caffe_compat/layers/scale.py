"""Scale: ``top = bottom * s (+ b)`` with ``s`` broadcast over the bottom axes
``[axis, axis + ndim(s))``.

``s`` is the second bottom, or a learned blob of shape ``bottom.shape[axis : axis + num_axes]``
(``axis`` default 1, ``num_axes`` default 1, -1 = to the end, 0 = a scalar) filled by
``scale_param.filler`` (default: constant 1, the identity). With ``bias_term`` a learned bias of
the same placement follows (filled by ``bias_filler``, default constant 0); with a second bottom
its shape spans ``ndim(bottom 1)`` axes. Blob order: scale (when learned), then bias.
"""
from ..rules.fields import declare
from ..rules.scale import FIELDS, FILLERS, scale_rule
from .base import Layer
from .registry import register_layer


declare("torch", "Scale", "ScaleParameter", FIELDS | FILLERS)


@register_layer("Scale")
class Scale(Layer):
    rule_of = staticmethod(scale_rule)
    rule_reads_bottoms = True
    blob_names = ("scale", "bias")
    min_bottoms = 1
    max_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        if rule.learned is not None:
            self.add_blob("scale", rule.learned)
        self.bias_term = rule.bias_term
        if self.bias_term:
            self.add_blob("bias", rule.bias)

    def forward(self, x, s=None):
        s = self.scale if s is None else s
        top = x * s.reshape(self.rule.scale_view(tuple(x.shape), tuple(s.shape)))
        if self.bias_term:
            top = top + self.bias.reshape(self.rule.bias_view(tuple(x.shape)))
        return top
