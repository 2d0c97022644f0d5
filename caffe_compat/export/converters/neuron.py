"""Dropout, the one element-wise layer the export converts itself: the identity in TEST, or the
``1 - ratio`` factor of ``scale_train: false``; refused in TRAIN (the torch-free path reads
TEST nets only). The other neurons' nodes come from the torch-free converters (:mod:`.shared`).
"""

from ...rules import dropout as dropout_rule_module
from ...rules.fields import declare
from ..registry import register_converter

declare("onnx", "Dropout", "DropoutParameter", dropout_rule_module.FIELDS)


def _x(ctx):
    return ctx.bottoms[0]


@register_converter("Dropout")
def dropout(ctx):
    m = ctx.module
    if m.phase == "TRAIN" and m.ratio != 0.0:
        ctx.fail("Dropout drops values at random in TRAIN; export a TEST-phase net")
    scale = m.rule.test_scale()
    if scale is None:
        return _x(ctx)
    return ctx.op("Mul", [_x(ctx), ctx.scalar(scale, hint="keep")])
