"""Element-wise layers the export converts itself: Power (with Caffe's constant cases, the
batch kept free), Swish, Mish and Dropout (identity in TEST, or the ``1 - ratio`` factor of
``scale_train: false``). The other neurons' nodes come from the torch-free converters
(:mod:`.shared`).
"""
import numpy as np

from ...rules import power as power_rules
from ...rules.fields import declare
from ..registry import register_converter

declare("onnx", "Power", "PowerParameter", power_rules.FIELDS)
declare("onnx", "Swish", "SwishParameter", {"beta"})
declare("onnx", "Dropout", "DropoutParameter", {"dropout_ratio", "scale_train"})


def _x(ctx):
    return ctx.bottoms[0]


def _mul(ctx, x, value, hint):
    return x if value == 1.0 else ctx.op("Mul", [x, ctx.scalar(value, hint=hint)])


def _add(ctx, x, value, hint):
    return x if value == 0.0 else ctx.op("Add", [x, ctx.scalar(value, hint=hint)])


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
