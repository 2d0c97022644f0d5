"""LRN across channels: Caffe's CrossChannelForward_cpu operation for operation
(``kernels/_lrn_kernel.c``: the running channel sum with OpenBLAS's saxpy roundings,
``powf``); its float32 constants as Caffe computes them (``alpha / size`` in float).
Backward: CrossChannelBackward_cpu in C, from the scale the last forward kept.

WITHIN_CHANNEL (Caffe's WithinChannelForward: Power, AVE Pooling and Eltwise layers):
``s = 1 + alpha * (sum of x^2 over the n x n window, zero-padded by (n - 1) / 2) / n^2``,
``y = x * s^-beta``; backward the gradient of that form, ``dy s^-beta - 2 alpha beta / n^2 x
boxsum(dy x s^(-beta - 1))`` (the window is symmetric, so its transpose is itself)."""
import numpy as np

from ...parallel.threads import array_kernel_threads
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.lrn import ACROSS_CHANNELS, FIELDS, lrn_rule, within_channel
from ..registry import Unsupported, register
from .base import BottomDiffLayer, need

try:
    from ...kernels import _lrn_kernel
except ImportError:  # pragma: no cover - the extension is optional
    _lrn_kernel = None


declare("array", "LRN", "LRNParameter", FIELDS, no_effect=ENGINE_FIELD)


def _box_sum(a, size, pad):
    """The sum of ``a`` (N, C, H, W) over each zero-padded ``size`` x ``size`` window."""
    padded = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=2).sum(
        axis=-1, dtype=np.float32)
    return np.lib.stride_tricks.sliding_window_view(rows, size, axis=3).sum(
        axis=-1, dtype=np.float32)


@register("LRN")
class LRN(BottomDiffLayer):
    one_bottom = True
    rule_of = staticmethod(lrn_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.across = rule.region == ACROSS_CHANNELS
        need(_lrn_kernel is not None or not self.across, "the compiled LRN kernel")
        self.size, self.beta32, self.k32 = rule.size, rule.beta32, rule.k32
        self.alpha_over_size, self.cache_ratio = rule.alpha_over_size, rule.cache_ratio
        self._scratch = None

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        if not self.across:
            rule = self.rule
            mean = _box_sum(np.square(x), rule.size, rule.pre_pad)
            mean *= np.float32(1.0 / (rule.size * rule.size))
            y[...], scale = within_channel(x, mean, rule.alpha, rule.beta, np.power)
            self._scratch = (x.shape, scale)
            return
        if self._scratch is None or self._scratch[0].shape != x.shape:
            self._scratch = (np.empty_like(x), np.empty_like(x))
        scale, powed = self._scratch
        _lrn_kernel.across_forward(x, scale, powed, y, self.size, self.alpha_over_size,
                                   -self.beta32, self.k32, array_kernel_threads(x.size * 8))

    def can_backward(self):
        return self._scratch is not None

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        x, y = bottoms[0], tops[0]
        if not self.across:
            shape, scale = self._scratch
            if shape != x.shape:
                raise Unsupported("LRN backward without its forward")
            rule, dy = self.rule, top_diffs[0]
            beta = np.float32(rule.beta)
            inner = _box_sum(dy * x * np.power(scale, -beta - np.float32(1)), rule.size,
                             rule.pre_pad)
            factor = np.float32(2.0 * rule.alpha * rule.beta / (rule.size * rule.size))
            np.multiply(dy, np.power(scale, -beta), out=dx)
            dx -= factor * x * inner
            return
        scale, powed = self._scratch
        if scale.shape != x.shape:
            raise Unsupported("LRN backward without its forward")
        _lrn_kernel.across_backward(x, y, scale, powed, np.ascontiguousarray(top_diffs[0]), dx,
                                    self.size, self.cache_ratio,
                                    array_kernel_threads(x.size * 8))
