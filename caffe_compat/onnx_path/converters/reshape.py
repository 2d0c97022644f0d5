"""Reshape (:mod:`caffe_compat.rules.reshape`): Caffe's ReshapeLayer. ``shape`` replaces the
input axes ``[axis, axis + num_axes)`` (``axis`` default 0, negative from the end;
``num_axes`` -1: to the last axis); a 0 copies the input's dimension at that position, one -1
takes what the count leaves; the count must not change. In an export's graph (``batch_free``)
the target is Caffe's own (its 0s copy, as ONNX's do; the input's other axes written, the
batch's inferred where it falls in them)."""
import numpy as np

from ...rules.reshape import FIELDS, reshape_rule
from ._common import declare, register

declare("lite", "Reshape", "ReshapeParameter", FIELDS)


def reshaped(g, x, shape, free=None):
    """``x`` viewed with ``shape`` (a constant stays one); ``free``: the target written instead
    in an export's graph (the batch length copied with 0 or inferred with -1; written even
    where ``shape`` is the input's, which another batch length may not keep)."""
    shape = tuple(int(d) for d in shape)
    if shape == x.shape and (x.const is not None or not g.batch_free):
        return x
    if x.const is not None:
        return g.constant(x.const.reshape(shape))
    if g.batch_free:
        return type(x)(g.op("Reshape", [x, g.const(np.array(free, np.int64))]), shape)
    return type(x)(g.reshape(g.name(x), list(shape)), shape)


@register("Reshape")
def reshape(g, lp, bottoms, blobs):
    x, = bottoms
    rule = reshape_rule(lp, [x.shape])
    start, end = rule.span(len(x.shape))
    tail = list(x.shape[end:])
    if end == 0 and tail and -1 not in rule.dims:     # the batch is in the untouched tail
        tail[0] = -1
    return [reshaped(g, x, rule.top_shape(x.shape), [0] * start + list(rule.dims) + tail)]
