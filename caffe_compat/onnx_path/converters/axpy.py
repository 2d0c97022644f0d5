"""Axpy (:mod:`caffe_compat.rules.axpy`): ``a`` aligned to X (its lengths copied, trailing
ones added: :func:`._common.aligned`), then Mul and Add; no length is written."""
from ...rules.axpy import axpy_top_shape
from ._common import aligned, register


@register("Axpy")
def axpy(g, lp, bottoms, blobs):
    a, x, y = bottoms
    top = axpy_top_shape(lp, [b.shape for b in bottoms])
    view = tuple(a.shape[:2]) + (1,) * (len(x.shape) - 2)
    scale = aligned(g, a, view)
    return [type(x)(g.op("Add", [g.op("Mul", [scale, x]), y]), top)]
