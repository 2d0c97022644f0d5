"""Reshape (:mod:`caffe_compat.rules.reshape`): Caffe's ReshapeLayer. ``shape`` replaces the
input axes ``[axis, axis + num_axes)`` (``axis`` default 0, negative from the end;
``num_axes`` -1: to the last axis); a 0 copies the input's dimension at that position, one -1
takes what the count leaves; the count must not change."""
from ...rules import reshape as reshape_rule_module
from ...rules.fields import declare
from ...rules.reshape import reshape_rule
from ._common import register

declare("lite", "Reshape", "ReshapeParameter", reshape_rule_module.FIELDS)


def reshaped(g, x, shape):
    """``x`` viewed with ``shape`` (a constant stays one)."""
    shape = tuple(int(d) for d in shape)
    if shape == x.shape:
        return x
    if x.const is not None:
        return g.constant(x.const.reshape(shape))
    return type(x)(g.reshape(g.name(x), list(shape)), shape)


@register("Reshape")
def reshape(g, lp, bottoms, blobs):
    x, = bottoms
    return [reshaped(g, x, reshape_rule(lp, [x.shape]).top_shape(x.shape))]
