"""Caffe's BiasLayer rules (bias_layer.cpp), read by every engine; ScaleLayer shares the
placement (:func:`operand_shapes`, :func:`operand_view`).

Parameters and defaults: ``axis`` (1; negative from the end), ``num_axes`` (1; -1 = to the
end, 0 = a scalar), ``filler`` (absent: constant 0). Two forms: with one bottom ``b`` is a
learned blob of shape ``bottom.shape[axis : axis + num_axes]``; with two bottoms ``b`` is the
second bottom and ``num_axes`` is not read. ``top = bottom + b``, ``b`` broadcast over the
bottom axes ``[axis, axis + ndim(b))``; a scalar ``b`` (0 axes) ignores ``axis``, as Caffe
sets it to 0. Top shape: the bottom's. Refusals, as Caffe's CHECKs: an axis out of range,
``num_axes < -1``, a learned blob or second bottom extending past the bottom, a dimension of
``b`` other than the bottom's at its axis.
"""
from __future__ import annotations

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"axis", "num_axes"})
FILLERS = frozenset({"filler"})
_SECTION = "bias_param"


def learned_shape(layer, shape, axis_param, num_axes, what, section):
    """Shape of a learned Bias/Scale blob: ``shape[axis : axis + num_axes]`` (``num_axes``
    -1: to the end), with Caffe's LayerSetUp CHECKs."""
    axis = canonical_axis(layer, int(axis_param), len(shape), field=f"{section}.axis")
    num_axes = int(num_axes)
    if num_axes < -1:
        refuse(layer, "num_axes must be non-negative, or -1 to extend to the end, got "
               f"{num_axes}", f"{section}.num_axes")
    if num_axes >= 0 and axis + num_axes > len(shape):
        refuse(layer, f"{what} blob's shape extends past the bottom shape {tuple(shape)} "
               f"(axis {axis}, num_axes {num_axes})", f"{section}.num_axes")
    return tuple(shape[axis:]) if num_axes == -1 else tuple(shape[axis:axis + num_axes])


def operand_shapes(layer, bottom_shapes, p, what, section):
    """The bottoms' shapes (1 or 2 of them, refused otherwise) and the learned blob's shape
    from ``p.axis`` and ``p.num_axes`` (None with two bottoms)."""
    shapes = [tuple(int(d) for d in s) for s in bottom_shapes]
    if not 1 <= len(shapes) <= 2:
        refuse(layer, f"takes 1 or 2 bottoms, got {len(shapes)}")
    if len(shapes) == 2:
        return shapes, None
    return shapes, learned_shape(layer, shapes[0], p.axis, p.num_axes, what, section)


def operand_view(layer, shape, axis_param, operand_shape, what, section):
    """The view of an operand of ``operand_shape`` aligned with a bottom of ``shape`` at
    ``axis_param`` (Caffe's Reshape), with its CHECKs; a 0-axis operand ignores the axis."""
    shape, operand_shape = tuple(shape), tuple(operand_shape)
    if len(operand_shape) == 0:
        return (1,) * len(shape)
    axis = canonical_axis(layer, int(axis_param), len(shape), field=f"{section}.axis")
    if axis + len(operand_shape) > len(shape):
        refuse(layer, f"{what} shape {operand_shape} extends past the bottom shape {shape} "
               f"when applied from axis {axis}")
    for i, d in enumerate(operand_shape):
        if shape[axis + i] != d:
            refuse(layer, f"{what} shape {operand_shape} does not match bottom shape "
                   f"{shape} at axis {axis + i}")
    return (1,) * axis + operand_shape + (1,) * (len(shape) - axis - len(operand_shape))


@frozen
class BiasRule:
    layer: object
    axis_param: int
    learned: tuple          # the learned blob's shape, or None with two bottoms

    def param_shapes(self):
        return [] if self.learned is None else [self.learned]

    def fillers(self):
        """The learned blob's filler (its message's default is Caffe's constant 0)."""
        return [] if self.learned is None else [self.layer.bias_param.filler]

    def view(self, shape, b_shape):
        return operand_view(self.layer, shape, self.axis_param, b_shape, "bias", _SECTION)

    def top_shape(self, bottom_shapes):
        b_shape = bottom_shapes[1] if len(bottom_shapes) > 1 else self.learned
        self.view(bottom_shapes[0], b_shape)
        return tuple(int(d) for d in bottom_shapes[0])


def bias_rule(layer, bottom_shapes):
    """The :class:`BiasRule` of ``layer`` for its bottoms' shapes (1 or 2)."""
    p = layer.bias_param
    shapes, learned = operand_shapes(layer, bottom_shapes, p, "bias", _SECTION)
    rule = BiasRule(layer, int(p.axis), learned)
    rule.top_shape(shapes)
    return rule
