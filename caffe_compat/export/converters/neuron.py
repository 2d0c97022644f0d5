"""Element-wise layers the export converts itself: Swish, Mish and Dropout (identity in TEST, or
the ``1 - ratio`` factor of ``scale_train: false``; refused in TRAIN). The other neurons'
nodes come from the torch-free converters (:mod:`.shared`).
"""

from ...rules.fields import declare
from ..registry import register_converter

declare("onnx", "Swish", "SwishParameter", {"beta"})
declare("onnx", "Dropout", "DropoutParameter", {"dropout_ratio", "scale_train"})


def _x(ctx):
    return ctx.bottoms[0]


def _mul(ctx, x, value, hint):
    return x if value == 1.0 else ctx.op("Mul", [x, ctx.scalar(value, hint=hint)])


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
