"""LRN across channels: Caffe's CrossChannelForward_cpu operation for operation
(``kernels/_lrn_kernel.c``: the running channel sum with OpenBLAS's saxpy roundings,
``powf``); its float32 constants as Caffe computes them (``alpha / size`` in float). The
WITHIN_CHANNEL form is the torch engine's. Backward: CrossChannelBackward_cpu in C, from the
scale the last forward kept."""
import numpy as np

from ...parallel.threads import array_kernel_threads
from ...rules import lrn as lrn_rule_module
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.lrn import ACROSS_CHANNELS, lrn_rule
from ..registry import Unsupported, register
from .base import ArrayLayer, need

try:
    from ...kernels import _lrn_kernel
except ImportError:  # pragma: no cover - the extension is optional
    _lrn_kernel = None


# WITHIN_CHANNEL goes to the torch engine
declare("array", "LRN", "LRNParameter", lrn_rule_module.FIELDS - {"norm_region"},
        refuses={"norm_region"}, no_effect=ENGINE_FIELD)


@register("LRN")
class LRN(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(_lrn_kernel is not None, "the compiled LRN kernel")
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "LRN of one bottom")
        rule = self.rule = lrn_rule(param, bottom_shapes)
        need(rule.region == ACROSS_CHANNELS, "LRN within channels")
        self.size, self.beta32, self.k32 = rule.size, rule.beta32, rule.k32
        self.alpha_over_size, self.cache_ratio = rule.alpha_over_size, rule.cache_ratio
        self._scratch = None

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        if self._scratch is None or self._scratch[0].shape != x.shape:
            self._scratch = (np.empty_like(x), np.empty_like(x))
        scale, powed = self._scratch
        _lrn_kernel.across_forward(x, scale, powed, y, self.size, self.alpha_over_size,
                                   -self.beta32, self.k32, array_kernel_threads(x.size * 8))

    def can_backward(self):
        return self._scratch is not None

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        dx = bottom_diffs[0]
        if dx is None:
            return
        x, y = bottoms[0], tops[0]
        scale, powed = self._scratch
        if scale.shape != x.shape:
            raise Unsupported("LRN backward without its forward")
        _lrn_kernel.across_backward(x, y, scale, powed, np.ascontiguousarray(top_diffs[0]), dx,
                                    self.size, self.cache_ratio,
                                    array_kernel_threads(x.size * 8))
