"""Caffe's ScaleLayer rules (scale_layer.cpp), read by every engine.

Parameters and defaults: ``axis`` (1), ``num_axes`` (1; -1 = to the end, 0 = a scalar),
``filler`` (absent: constant 1), ``bias_term`` (false), ``bias_filler`` (absent: constant 0).
Two forms: with one bottom the scale is a learned blob of shape
``bottom.shape[axis : axis + num_axes]``; with two bottoms it is the second bottom. ``top =
bottom * s (+ b)``, ``s`` broadcast over the bottom axes ``[axis, axis + ndim(s))`` (a scalar
ignores ``axis``). With ``bias_term`` Caffe adds an internal BiasLayer with the same ``axis``
and ``num_axes`` = ``ndim(bottom 1)`` in the two-bottom form, else ``num_axes``: a learned
bias blob after the scale. Top shape: the bottom's. Refusals, as Caffe's CHECKs (those of
:mod:`.bias`): an axis out of range, ``num_axes < -1``, a scale extending past the bottom or
mismatching its dimensions.
"""
from __future__ import annotations

from .bias import learned_shape, operand_shapes, operand_view
from .record import frozen

FIELDS = frozenset({"axis", "num_axes", "bias_term"})
FILLERS = frozenset({"filler", "bias_filler"})
_SECTION = "scale_param"


@frozen
class ScaleRule:
    layer: object
    axis_param: int
    learned: tuple          # the learned scale's shape, or None with two bottoms
    bias: tuple             # the learned bias's shape, or None without bias_term

    @property
    def bias_term(self):
        return self.bias is not None

    def param_shapes(self):
        out = [] if self.learned is None else [self.learned]
        return out + ([self.bias] if self.bias is not None else [])

    def fillers(self):
        """Each learned blob's filler: the layer's message, or Caffe's default (a number:
        the scale's constant 1; the bias filler's own default is constant 0)."""
        p = self.layer.scale_param
        out = [] if self.learned is None else [p.filler if p.HasField("filler") else 1.0]
        return out + ([p.bias_filler] if self.bias is not None else [])

    def scale_view(self, shape, s_shape):
        return operand_view(self.layer, shape, self.axis_param, s_shape, "scale", _SECTION)

    def bias_view(self, shape):
        return operand_view(self.layer, shape, self.axis_param, self.bias, "bias", _SECTION)

    def top_shape(self, bottom_shapes):
        s_shape = bottom_shapes[1] if len(bottom_shapes) > 1 else self.learned
        self.scale_view(bottom_shapes[0], s_shape)
        if self.bias is not None:
            self.bias_view(bottom_shapes[0])
        return tuple(int(d) for d in bottom_shapes[0])


def scale_rule(layer, bottom_shapes):
    """The :class:`ScaleRule` of ``layer`` for its bottoms' shapes (1 or 2)."""
    p = layer.scale_param
    shapes, learned = operand_shapes(layer, bottom_shapes, p, "scale", _SECTION)
    bias = None
    if p.bias_term:
        n = len(shapes[1]) if len(shapes) > 1 else p.num_axes
        bias = learned_shape(layer, shapes[0], p.axis, n, "bias", _SECTION)
    rule = ScaleRule(layer, int(p.axis), learned, bias)
    rule.top_shape(shapes)
    return rule
