"""Pooling (MAX, AVE, global) with Caffe's PoolingLayer geometry (parameters, output size,
windows and refusals from :mod:`caffe_compat.rules.pooling`), written as ONNX pooling over
explicitly padded windows so that no runtime's own ceil-mode rule is relied on where padding
or a stride longer than the window could make it differ from Caffe's.

MAX takes the maximum over the window clipped to the input
(padding never wins; an empty window gives ``-FLT_MAX``, Caffe's initial value). AVE divides the
sum of the window (padded zeros included) by the size of the window clipped to
``[-pad, in + pad)``: zeros beyond the padded border do not count. Here the input is padded at
the end so that every window is a full ``k x k`` block, the sum is ONNX's AveragePool (count
including the pad) times ``k x k``, and the divisor is a constant map of Caffe's window sizes.
``global_pooling``: the whole plane. STOCHASTIC is the torch path's.
"""
import numpy as np

from ...rules import pooling as pool_rule
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.pooling import AVE, MAX, pooling_rule
from ._common import F32, Unsupported, four_d, register

_FLT_MAX = float(np.finfo(np.float32).max)

# STOCHASTIC pooling and the mask top go to the torch path
declare("lite", "Pooling", "PoolingParameter", pool_rule.FIELDS - {"pool"}, refuses={"pool"},
        no_effect=ENGINE_FIELD)


def _lengths_free(lp, shapes, rule=None):
    """A global pooling, and MAX without padding over windows at least as long as the stride:
    the nodes below that write no length. ``rule``: the layer's :func:`pooling_rule` record,
    its Reshape's refusals for ``shapes`` checked (made here where not given)."""
    if rule is None:
        rule = pooling_rule(lp, shapes)
    if rule.tops != 1 or not (rule.global_pooling or (
            rule.method == MAX and not any(rule.pad) and
            all(a >= b for a, b in zip(rule.kernel, rule.stride)))):
        return None
    return [rule.top_shape(shapes[0])], None


@register("Pooling", lengths_free=_lengths_free, rule=pooling_rule)
def pooling(g, lp, bottoms, blobs):
    x, = bottoms
    rule = pooling_rule(lp, [four_d(lp, x)])
    if rule.method not in (MAX, AVE) or rule.tops != 1:
        raise Unsupported(f"layer '{lp.name}': pool {rule.method} with {rule.tops} top(s)")
    n, c, h, w = x.shape
    if rule.global_pooling:
        op = "GlobalMaxPool" if rule.method == MAX else "GlobalAveragePool"
        return [type(x)(g.op(op, [x]), (n, c, 1, 1))]
    win = rule.windows(h, w)
    k, s, pad = win.kernel, rule.stride, rule.pad
    (oh, ow), (_, end_w, _, end_h) = win.out, win.pads
    if rule.method == MAX and not any(pad) and all(a >= b for a, b in zip(k, s)):
        # no padding and windows at least as long as the stride: every window starts inside
        # the input, so Caffe's rounding is ONNX's ceil_mode and the node holds no length
        # (one model for every input length: an image pyramid's shapes share it)
        y = g.op("MaxPool", [x], {"kernel_shape": list(k), "strides": list(s),
                                  "ceil_mode": int(rule.ceil)})
        return [type(x)(y, (n, c, oh, ow))]
    if rule.method == MAX:
        name = g.name(x)
        if end_h < 0 or end_w < 0:          # floor mode drops the last rows / columns
            name = g.op("Slice", [name, g.const(np.array([0, 0], np.int64)),
                                  g.const(np.array([h + min(end_h, 0), w + min(end_w, 0)],
                                                   np.int64)),
                                  g.const(np.array([2, 3], np.int64))])
        pads = [pad[0], pad[1], max(end_h, 0), max(end_w, 0)]
        y = g.op("MaxPool", [name], {"kernel_shape": list(k), "strides": list(s), "pads": pads})
        if win.any_empty():
            y = g.op("Max", [y, g.const(np.array(-_FLT_MAX, F32))])
        return [type(x)(y, (n, c, oh, ow))]
    # AVE: zero padding to full windows, window sums, Caffe's divisors
    pads = [0, 0, pad[0], pad[1], 0, 0, max(end_h, 0), max(end_w, 0)]
    name = g.name(x)
    if end_h < 0 or end_w < 0:
        name = g.op("Slice", [name, g.const(np.array([0, 0], np.int64)),
                              g.const(np.array([h + min(end_h, 0), w + min(end_w, 0)],
                                               np.int64)),
                              g.const(np.array([2, 3], np.int64))])
    if any(pads):
        name = g.op("Pad", [name, g.const(np.array(pads, np.int64))])
    y = g.op("AveragePool", [name], {"kernel_shape": list(k), "strides": list(s)})
    divisor = win.divisor.astype(F32)
    full = F32(k[0] * k[1])
    if (divisor != full).any():
        y = g.op("Mul", [y, g.const((full / divisor).astype(F32)[None, None])])
    return [type(x)(y, (n, c, oh, ow))]
