"""Interp (:mod:`caffe_compat.rules.interp`): a bilinear resize with aligned corners of the
cropped input, in float32 by torch's CPU rule (``upsample_bilinear2d``): the source position
``scale * i`` with ``scale = (in - 1) / (out - 1)`` in float32 (0 for one output), its integer
part and the fraction ``lambda``, the last row / column repeated, then
``(1 - ly) ((1 - lx) a + lx b) + ly ((1 - lx) c + lx d)``. Forward only: a backward asked of it
goes to the torch engine."""
import numpy as np

from ...rules.fields import declare
from ...rules.interp import FIELDS, interp_rule
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Interp", "InterpParameter", FIELDS)

F32 = np.float32


def _taps(n_in, n_out):
    """(first index, next index, weight of the next) per output position along one axis."""
    scale = F32((n_in - 1) / (n_out - 1)) if n_out > 1 else F32(0)
    real = scale * np.arange(n_out, dtype=F32)
    first = real.astype(np.int64)
    step = (first < n_in - 1).astype(np.int64)
    return first, first + step, (real - first.astype(F32)).astype(F32)


@register("Interp")
class Interp(ArrayLayer):
    rule_of = staticmethod(interp_rule)
    top_of_all = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(param.top) == 1, "Interp of one top")

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        first, h, w = self.rule.cropped(x.shape)
        x = x[:, :, first:first + h, first:first + w]
        h0, h1, ly = _taps(h, y.shape[2])
        w0, w1, lx = _taps(w, y.shape[3])
        lx, ly = lx[None, None, None, :], ly[None, None, :, None]
        top, bottom = x[:, :, h0], x[:, :, h1]
        near = (F32(1) - lx) * top[..., w0] + lx * top[..., w1]
        far = (F32(1) - lx) * bottom[..., w0] + lx * bottom[..., w1]
        np.copyto(y, (F32(1) - ly) * near + ly * far, casting="same_kind")
