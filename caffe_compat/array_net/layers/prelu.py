"""PReLU: ``max(x, 0) + a * min(x, 0)``, one slope per channel (axis 1) or one shared
(Caffe's PReLULayer, :mod:`caffe_compat.rules.prelu`), in float32, in place where Caffe runs it
so (the bottom is then kept for backward, as Caffe's ``bottom_memory_``). Backward counts
``x == 0`` as negative: ``dx = dy (x > 0) + a dy (x <= 0)``, and each slope's diff adds
``dy x`` over ``x <= 0`` one element after the other in blob order, as Caffe's loop does."""
import numpy as np

from ...rules.fields import declare
from ...rules.prelu import FIELDS, FILLERS, prelu_rule
from ..registry import register
from .base import RuleBlobsLayer

# a filler it does not draw (gaussian, msra, ...) leaves the fill to the torch engine
declare("array", "PReLU", "PReLUParameter", FIELDS, refuses=FILLERS)


@register("PReLU")
class PReLU(RuleBlobsLayer):
    one_bottom = True
    rule_of = staticmethod(prelu_rule)
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self._saved = None          # the bottom of an in-place forward

    def _slopes(self, params, ndim):
        return params[0].reshape(self.rule.slope_view(ndim))

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        if x is y:
            self._saved = x.copy()
            x = self._saved
        else:
            self._saved = None
        np.multiply(x, self._slopes(params, x.ndim), out=y)
        np.copyto(y, x, where=x > 0)

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        x = self._saved if bottoms[0] is tops[0] and self._saved is not None else bottoms[0]
        dy = top_diffs[0]
        low = x <= 0
        if param_diffs[0] is not None:
            terms = np.where(low, dy * x, np.float32(0)).astype(np.float32)
            diff = param_diffs[0]
            if self.rule.channel_shared:
                seq = np.concatenate([diff.reshape(1), terms.reshape(-1)])
                diff[...] = np.add.accumulate(seq, dtype=np.float32)[-1]
            else:
                n, c = x.shape[0], x.shape[1]
                per = terms.reshape(n, c, -1).transpose(1, 0, 2).reshape(c, -1)
                seq = np.concatenate([diff.reshape(c, 1), per], axis=1)
                diff[...] = np.add.accumulate(seq, axis=1, dtype=np.float32)[:, -1]
        if bottom_diffs[0] is not None:
            slope = self._slopes(params, x.ndim)
            grad = np.where(low, dy * slope, dy).astype(np.float32)
            np.copyto(bottom_diffs[0], grad)
