"""BatchNorm: ``(x - mean) / sqrt(var + eps)`` per channel (axis 1), Caffe's BatchNormLayer
(:mod:`caffe_compat.rules.batch_norm`), in float32 in Caffe's order: with global statistics
``mean = blob0 * f``, ``var = blob1 * f`` (``f = 1 / blob2[0]``, 0 when it is 0), then
``x - mean``, ``var + eps``, its square root and the division. Without them (TRAIN's default)
the batch's mean and biased variance (sums scaled by ``1 / m``, ``m = count / C``) normalise,
and the blobs take Caffe's moving averages: ``blob2 = maf blob2 + 1``, ``blob0 = mean + maf
blob0``, ``blob1 = m / (m - 1) var + maf blob1``. Backward: ``dy / std`` with global
statistics, else ``(dy - (sum(dy y) y + sum(dy)) / m) / std``; the statistics get no diff.
OpenCV's ``scale_bias`` is left to the torch engine."""
import numpy as np

from ...rules.batch_norm import EXTENSIONS, FIELDS, batch_norm_rule
from ...rules.fields import declare
from ..registry import register
from .base import BottomDiffLayer, need

declare("array", "BatchNorm", "BatchNormParameter", FIELDS,
        refuses=EXTENSIONS)

F32 = np.float32


@register("BatchNorm")
class BatchNorm(BottomDiffLayer):
    one_bottom = True
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        while len(param.param) < 3:          # Caffe masks the statistics from the solver
            param.param.add().lr_mult = 0.0
        super().__init__(param, bottom_shapes, phase)
        self.rule = batch_norm_rule(param, bottom_shapes, phase)
        need(not self.rule.scale_bias, "BatchNorm scale_bias")
        self._std = None            # sqrt(var + eps) of the last forward, per channel
        self._y = None              # the normalised top of the last training forward

    def param_shapes(self):
        return self.rule.param_shapes()

    def filler_params(self):
        return [None, None, None]

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, bottoms, tops, params):
        rule = self.rule
        x, y = bottoms[0], tops[0]
        view = rule.view(x.ndim)
        if rule.use_global_stats:
            f = rule.stats_factor(params[2].reshape(-1)[0])
            mean = (params[0] * f).astype(F32)
            var = (params[1] * f).astype(F32)
            np.subtract(x, mean.reshape(view), out=y)
        else:
            n, c = x.shape[0], x.shape[1]
            m = x.size // c
            inv = F32(1.0 / m)
            mean = (x.reshape(n, c, -1) * inv).sum(axis=2, dtype=F32).sum(axis=0, dtype=F32)
            np.subtract(x, mean.reshape(view), out=y)
            var = (y.reshape(n, c, -1) ** 2 * inv).sum(axis=2, dtype=F32).sum(axis=0,
                                                                                dtype=F32)
            maf = F32(rule.moving_average_fraction)
            params[2][...] = params[2] * maf + F32(1)
            params[0][...] = mean + maf * params[0]
            correction = F32(m) / F32(m - 1) if m > 1 else F32(1)
            params[1][...] = correction * var + maf * params[1]
        std = np.sqrt((var + F32(rule.eps)).astype(F32)).astype(F32)
        y /= std.reshape(view)
        self._std = std
        self._y = None if rule.use_global_stats else y.copy()

    def can_backward(self):
        return self._std is not None

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        dy = top_diffs[0].copy()
        view = self.rule.view(dy.ndim)
        std = self._std.reshape(view)
        if self.rule.use_global_stats:
            np.divide(dy, std, out=dx)
            return
        y = self._y
        n, c = y.shape[0], y.shape[1]
        m = y.size // c
        sum_dyy = (dy * y).reshape(n, c, -1).sum(axis=2, dtype=F32).sum(axis=0, dtype=F32)
        sum_dy = dy.reshape(n, c, -1).sum(axis=2, dtype=F32).sum(axis=0, dtype=F32)
        grad = y * sum_dyy.reshape(view) + sum_dy.reshape(view)
        grad = dy + F32(-1.0 / m) * grad
        np.divide(grad, std, out=dx)
