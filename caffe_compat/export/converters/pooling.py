"""Pooling (MAX, AVE, global; Caffe's window geometry) and SPP.

Caffe's output size (ceil rounding, the last window dropped when it would start in the
padding) becomes explicit ONNX pads: ``p`` before and ``e = (out - 1) s + k - in - p`` after
(at least 0), with floor rounding, so every runtime gets Caffe's size without relying on its
own ``ceil_mode`` rule.

- MAX ignores padded positions, as Caffe does (a window with no input position gives
  ``-FLT_MAX``, both here and in Caffe). When ``e`` is not smaller than the kernel (ONNX
  runtimes refuse such pads) the input is padded with ``-FLT_MAX`` by a ``Pad`` node first.
- AVE divides by the window clipped to ``[-p, in + p)``: ``count_include_pad`` when no
  window reaches past ``in + p`` (``e <= p``); otherwise the zero-padded average is rescaled by
  ``k_h k_w / divisor`` per output position (a constant of the output's size).
- ``global_pooling``: ``GlobalMaxPool`` / ``GlobalAveragePool``.
STOCHASTIC pooling (TEST: ``sum(x^2) / sum(x)`` per window, 0 where that sum is not
positive) is the ratio of two zero-padded window sums. The MAX mask top is not exported.
"""
import numpy as np

from ...proto import caffe_pb2
from ...rules import pooling as pool_rule
from ...rules.fields import ENGINE_FIELD, declare
from ..registry import register_converter

declare("onnx", "Pooling", "PoolingParameter", pool_rule.FIELDS, no_effect=ENGINE_FIELD)
declare("onnx", "SPP", "SPPParameter", {"pyramid_height", "pool"}, no_effect=ENGINE_FIELD)

P = caffe_pb2.PoolingParameter
FLT_MAX = float(np.finfo(np.float32).max)


def _geometry(ctx, module, h, w):
    plan = module._plan(h, w)
    (kh, kw), (oh, ow) = plan["k"], plan["out"]
    (sh, sw), (ph, pw) = module.stride, module.pad
    eh = max((oh - 1) * sh + kh - h - ph, 0)
    ew = max((ow - 1) * sw + kw - w - pw, 0)
    for size, k, s, p, e, out in ((h, kh, sh, ph, eh, oh), (w, kw, sw, pw, ew, ow)):
        if (size + p + e - k) // s + 1 != out:     # cannot happen for Caffe's geometry
            ctx.fail(f"pooling geometry {size} -> {out} has no ONNX equivalent")
    return plan, (kh, kw), (sh, sw), (ph, pw), (eh, ew)


def _padded(ctx, x, pads, value):
    (ph, pw), (eh, ew) = pads
    return ctx.op("Pad", [x, ctx.ints([0, 0, ph, pw, 0, 0, eh, ew], "pads"),
                          ctx.scalar(value, hint="pad_value")], mode="constant")


def pool(ctx, x, module, shape):
    """The ONNX value of Caffe Pooling ``module`` applied to ``x`` of static ``shape``."""
    h, w = int(shape[2]), int(shape[3])
    if module.global_pooling:
        return ctx.op("GlobalMaxPool" if module.method == P.MAX else "GlobalAveragePool", [x]) \
            if module.method != P.STOCHASTIC else _stochastic(ctx, x, module, h, w)
    plan, k, s, p, e = _geometry(ctx, module, h, w)
    if module.method == P.MAX:
        if e[0] >= k[0] or e[1] >= k[1] or p[0] >= k[0] or p[1] >= k[1]:
            x = _padded(ctx, x, (p, e), -FLT_MAX)
            return ctx.op("MaxPool", [x], kernel_shape=list(k), strides=list(s))
        return ctx.op("MaxPool", [x], kernel_shape=list(k), strides=list(s),
                      pads=[p[0], p[1], e[0], e[1]])
    if module.method == P.AVE:
        if e[0] <= p[0] and e[1] <= p[1]:
            return ctx.op("AveragePool", [x], kernel_shape=list(k), strides=list(s),
                          pads=[p[0], p[1], e[0], e[1]], count_include_pad=1)
        avg = ctx.op("AveragePool", [_padded(ctx, x, (p, e), 0.0)], kernel_shape=list(k),
                     strides=list(s))
        rescale = (k[0] * k[1]) / plan["divisor"].numpy()
        return ctx.op("Mul", [avg, ctx.const(rescale.astype(np.float32), "window_rescale")])
    return _stochastic(ctx, x, module, h, w)


def _stochastic(ctx, x, module, h, w):
    if module.phase == "TRAIN":
        ctx.fail("STOCHASTIC pooling samples in TRAIN; export a TEST-phase net")
    if module.global_pooling:
        k, s, p, e = (h, w), (1, 1), (0, 0), (0, 0)
    else:
        _, k, s, p, e = _geometry(ctx, module, h, w)
    sq = ctx.op("Mul", [x, x])
    area = ctx.scalar(float(k[0] * k[1]), hint="window_area")
    sq_sum, total = [ctx.op("Mul", [ctx.op("AveragePool", [_padded(ctx, v, (p, e), 0.0)],
                                           kernel_shape=list(k), strides=list(s)), area])
                     for v in (sq, x)]
    # our layer's rule: sum(x^2) / (sum(x) + FLT_MIN) where that sum is positive, else 0
    total = ctx.op("Add", [total, ctx.scalar(float(np.finfo(np.float32).tiny), hint="tiny")])
    ratio = ctx.op("Div", [sq_sum, total])
    positive = ctx.op("Greater", [total, ctx.scalar(0.0, hint="zero")])
    return ctx.op("Where", [positive, ratio, ctx.scalar(0.0, hint="zero")])


@register_converter("Pooling")
def pooling(ctx):
    if len(ctx.node.tops) != 1:
        ctx.fail("the MAX pooling mask (second top) is not exported")
    return pool(ctx, ctx.bottoms[0], ctx.module, ctx.bottom_shapes[0])


@register_converter("SPP")
def spp(ctx):
    shape = ctx.bottom_shapes[0]
    pools = ctx.module._pools(tuple(shape))
    outs = [pool(ctx, ctx.bottoms[0], p, shape) for p in pools]
    if len(outs) == 1:
        return outs[0]
    flat = [ctx.op("Flatten", [o], axis=1) for o in outs]
    return ctx.op("Concat", flat, axis=1)
