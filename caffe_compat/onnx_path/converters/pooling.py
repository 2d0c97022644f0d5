"""Pooling (MAX, AVE, STOCHASTIC in TEST, global) with Caffe's PoolingLayer geometry
(:mod:`caffe_compat.rules.pooling`), written as ONNX pooling over explicitly padded windows,
relying on no runtime's own ceil-mode rule.

MAX: the maximum over the window clipped to the input (padding never wins; an empty window
gives ``-FLT_MAX``, Caffe's initial value). AVE: the window's sum (padded zeros included)
divided by the size of the window clipped to ``[-pad, in + pad)``; here the input is padded at
the end so that every window is a full ``k x k`` block, the sum is AveragePool (pad counted)
times ``k x k``, the divisor a constant map of Caffe's window sizes. ``global_pooling``: the
whole plane. The mask top is the torch path's.

STOCHASTIC in TEST (``sum(x^2) / (sum(x) + FLT_MIN)`` per window where that sum is positive,
else 0): the ratio of two window sums, in an export's graph (``batch_free``) only: where the
sum nearly cancels, the runtime's order of addition moves it beyond the torch-free path's
bound (1e-5 of the output's scale); in TRAIN it samples (the torch path's).

SPP (Caffe's SPPLayer, :mod:`caffe_compat.rules.spp`): each pyramid level is its own Pooling
layer, written by the Pooling converter, flattened to (N, C bins); the levels concatenated on
axis 1 (one level: its pooling output as it is). What that converter refuses for a level
(STOCHASTIC) goes to the torch path.
"""
import numpy as np

from ...rules.pooling import AVE, FIELDS, MAX, STOCHASTIC, pooling_rule
from ...rules.spp import FIELDS as SPP_FIELDS, spp_rule
from ._common import (ENGINE_FIELD, F32, Unsupported, converter, declare, four_d, register,
                      train_phase)

_FLT_MAX = float(np.finfo(np.float32).max)

# STOCHASTIC pooling goes to the torch path (but in an export's graph)
declare("lite", "Pooling", "PoolingParameter", FIELDS - {"pool"}, refuses={"pool"},
        no_effect=ENGINE_FIELD)
declare("lite", "SPP", "SPPParameter", SPP_FIELDS - {"pool"}, refuses={"pool"},
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
    if rule.tops != 1:
        raise Unsupported(f"layer '{lp.name}': the MAX pooling mask (second top)")
    if rule.method == STOCHASTIC and (train_phase(lp) or not g.batch_free):
        raise Unsupported(f"layer '{lp.name}': STOCHASTIC pooling (written for the export of "
                          "a TEST-phase net only; in TRAIN it samples)")
    n, c, h, w = x.shape
    if rule.global_pooling:
        if rule.method == STOCHASTIC:
            sums = [g.op("ReduceSum", [v, g.const([2, 3])], {"keepdims": 1})
                    for v in (g.op("Mul", [x, x]), x)]
            return [type(x)(_ratio(g, *sums), (n, c, 1, 1))]
        op = "GlobalMaxPool" if rule.method == MAX else "GlobalAveragePool"
        return [type(x)(g.op(op, [x]), (n, c, 1, 1))]
    win = rule.windows(h, w)
    k, s, pad = win.kernel, rule.stride, rule.pad
    oh, ow = win.out
    if rule.method == MAX and not any(pad) and all(a >= b for a, b in zip(k, s)):
        # no padding and windows at least as long as the stride: every window starts inside
        # the input, so Caffe's rounding is ONNX's ceil_mode and the node holds no length
        # (one model for every input length: an image pyramid's shapes share it)
        y = g.op("MaxPool", [x], {"kernel_shape": list(k), "strides": list(s),
                                  "ceil_mode": int(rule.ceil)})
        return [type(x)(y, (n, c, oh, ow))]
    if rule.method == MAX:
        _, end_w, _, end_h = win.pads
        pads = [pad[0], pad[1], max(end_h, 0), max(end_w, 0)]
        name = _cut(g, x, win, (h, w))
        if pads[2] >= k[0] or pads[3] >= k[1]:
            # an end pad as long as the window (a last window starting past the input, which
            # Caffe keeps without padding): runtimes refuse such pads, so the input is padded
            # with -FLT_MAX (never the maximum of a window that reaches the input) by a node
            name = g.op("Pad", [name, g.const([0, 0, 0, 0, 0, 0] + pads[2:]),
                                g.const(np.array(-_FLT_MAX, F32))])
            pads = pads[:2] + [0, 0]
        y = g.op("MaxPool", [name],
                 {"kernel_shape": list(k), "strides": list(s), "pads": pads})
        if win.any_empty():
            y = g.op("Max", [y, g.const(np.array(-_FLT_MAX, F32))])
        return [type(x)(y, (n, c, oh, ow))]
    if rule.method == AVE:
        y = _window_means(g, x, rule, win, (h, w))
        divisor = win.divisor.astype(F32)
        full = F32(k[0] * k[1])
        if (divisor != full).any():
            y = g.op("Mul", [y, g.const((full / divisor).astype(F32)[None, None])])
        return [type(x)(y, (n, c, oh, ow))]
    area = g.const(np.array(k[0] * k[1], F32))
    sums = [g.op("Mul", [_window_means(g, v, rule, win, (h, w)), area])
            for v in (g.op("Mul", [x, x]), x)]
    return [type(x)(_ratio(g, *sums), (n, c, oh, ow))]


def _cut(g, x, win, hw):
    """``x`` (of planes ``hw``) without the rows and columns no window reaches (floor mode
    drops them)."""
    _, end_w, _, end_h = win.pads
    if end_h >= 0 and end_w >= 0:
        return x
    return g.op("Slice", [x, g.const([0, 0]),
                          g.const([hw[0] + min(end_h, 0), hw[1] + min(end_w, 0)]),
                          g.const([2, 3])])


def _window_means(g, x, rule, win, hw):
    """Each window's sum over ``k x k`` (padded zeros included), divided by ``k x k``: ``x``
    zero-padded so that every window is a whole block of it, ONNX's AveragePool."""
    _, end_w, _, end_h = win.pads
    pads = [0, 0, rule.pad[0], rule.pad[1], 0, 0, max(end_h, 0), max(end_w, 0)]
    name = _cut(g, x, win, hw)
    if any(pads):
        name = g.op("Pad", [name, g.const(pads)])
    return g.op("AveragePool", [name], {"kernel_shape": list(win.kernel),
                                        "strides": list(rule.stride)})


def _ratio(g, squares, total):
    """STOCHASTIC's TEST value from the windows' sums of ``x^2`` and of ``x``."""
    total = g.op("Add", [total, g.const(np.array(np.finfo(F32).tiny, F32))])
    zero = g.const(np.array(0.0, F32))
    return g.op("Where", [g.op("Greater", [total, zero]), g.op("Div", [squares, total]), zero])


@register("SPP")
def spp(g, lp, bottoms, blobs):
    x, = bottoms
    rule = spp_rule(lp)
    pool = converter("Pooling")
    levels = [pool(g, level, [x], None)[0] for level, _ in rule.levels(x.shape)]
    if len(levels) == 1:
        return levels
    flat = [g.op("Flatten", [y], {"axis": 1}) for y in levels]
    return [type(x)(g.op("Concat", flat, {"axis": 1}), rule.top_shape(x.shape))]
