"""Element-wise layers ("neurons" in Caffe's terms), each with the formula its layer module
states: ReLU (``LeakyRelu`` with ``negative_slope``), ReLU6 (``Clip`` 0..6), PReLU, Sigmoid,
TanH, ELU, BNLL (``Softplus``), AbsVal, Exp, Log, Power (with Caffe's constant cases),
Threshold (strictly greater), Clip, Swish, Mish, Dropout (identity in TEST, or the
``1 - ratio`` factor of ``scale_train: false``).
"""
import numpy as np

from ..registry import register_converter


def _x(ctx):
    return ctx.bottoms[0]


@register_converter("ReLU")
def relu(ctx):
    slope = ctx.module.slope
    if slope == 0.0:
        return ctx.op("Relu", [_x(ctx)])
    return ctx.op("LeakyRelu", [_x(ctx)], alpha=float(slope))


@register_converter("ReLU6")
def relu6(ctx):
    return ctx.op("Clip", [_x(ctx), ctx.scalar(0.0, hint="min"), ctx.scalar(6.0, hint="max")])


@register_converter("PReLU")
def prelu(ctx):
    m = ctx.module
    a = m.weight.detach().cpu().numpy().astype(np.float32)
    rank = len(ctx.bottom_shapes[0])
    if not m.channel_shared:
        a = a.reshape((-1,) + (1,) * (rank - 2))
    return ctx.op("PRelu", [_x(ctx), ctx.const(a.reshape(a.shape or (1,)), "slope")])


@register_converter("Sigmoid")
def sigmoid(ctx):
    return ctx.op("Sigmoid", [_x(ctx)])


@register_converter("TanH")
def tanh(ctx):
    return ctx.op("Tanh", [_x(ctx)])


@register_converter("ELU")
def elu(ctx):
    return ctx.op("Elu", [_x(ctx)], alpha=float(ctx.module.alpha))


@register_converter("BNLL")
def bnll(ctx):
    return ctx.op("Softplus", [_x(ctx)])


@register_converter("AbsVal")
def abs_val(ctx):
    return ctx.op("Abs", [_x(ctx)])


def _mul(ctx, x, value, hint):
    return x if value == 1.0 else ctx.op("Mul", [x, ctx.scalar(value, hint=hint)])


def _add(ctx, x, value, hint):
    return x if value == 0.0 else ctx.op("Add", [x, ctx.scalar(value, hint=hint)])


@register_converter("Exp")
def exp(ctx):
    m = ctx.module
    y = ctx.op("Exp", [_mul(ctx, _x(ctx), m.inner, "inner")])
    return _mul(ctx, y, m.outer, "outer")


@register_converter("Log")
def log(ctx):
    m = ctx.module
    inner = _add(ctx, _mul(ctx, _x(ctx), m.scale, "scale"), m.shift, "shift")
    return _mul(ctx, ctx.op("Log", [inner]), m.base_scale, "base_scale")


@register_converter("Power")
def power(ctx):
    m = ctx.module
    x = _x(ctx)
    if m.diff_scale == 0.0:      # Caffe ignores the input: 1, or shift ^ power, everywhere
        with np.errstate(all="ignore"):
            value = 1.0 if m.power == 0.0 else \
                float(np.power(np.float32(m.shift), np.float32(m.power)))
        zeros = ctx.op("Mul", [x, ctx.scalar(0.0, hint="zero")])
        return ctx.op("Add", [zeros, ctx.scalar(value, hint="value")]) \
            if np.isfinite(value) else ctx.op("Expand", [ctx.scalar(value, hint="value"),
                                                         ctx.op("Shape", [x])])
    t = _add(ctx, _mul(ctx, x, m.scale, "scale"), m.shift, "shift")
    return t if m.power == 1.0 else ctx.op("Pow", [t, ctx.scalar(m.power, hint="power")])


@register_converter("Threshold")
def threshold(ctx):
    above = ctx.op("Greater", [_x(ctx), ctx.scalar(ctx.module.threshold, hint="threshold")])
    return ctx.op("Cast", [above], to=1)


@register_converter("Clip")
def clip(ctx):
    m = ctx.module
    return ctx.op("Clip", [_x(ctx), ctx.scalar(m.min, hint="min"), ctx.scalar(m.max, hint="max")])


@register_converter("Swish")
def swish(ctx):
    x = _x(ctx)
    return ctx.op("Mul", [x, ctx.op("Sigmoid", [_mul(ctx, x, ctx.module.beta, "beta")])])


@register_converter("Mish")
def mish(ctx):
    x = _x(ctx)
    return ctx.op("Mul", [x, ctx.op("Tanh", [ctx.op("Softplus", [x])])])


@register_converter("Dropout")
def dropout(ctx):
    m = ctx.module
    if m.phase == "TRAIN" and m.ratio != 0.0:
        ctx.fail("Dropout drops values at random in TRAIN; export a TEST-phase net")
    if m.scale_train or m.ratio == 0.0:
        return _x(ctx)
    return ctx.op("Mul", [_x(ctx), ctx.scalar(1.0 - m.ratio, hint="keep")])
