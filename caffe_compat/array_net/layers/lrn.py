"""LRN across channels: Caffe's CrossChannelForward_cpu operation for operation
(``kernels/_lrn_kernel.c``: the running channel sum with OpenBLAS's saxpy roundings,
``powf``); its float32 constants as Caffe computes them (``alpha / size`` in float). The
WITHIN_CHANNEL form is the torch engine's. Backward: CrossChannelBackward_cpu in C, from the
scale the last forward kept."""
import numpy as np

from ...parallel.threads import array_kernel_threads
from ...proto import caffe_pb2
from ..registry import Unsupported, register
from .base import ArrayLayer, need

try:
    from ...kernels import _lrn_kernel
except ImportError:  # pragma: no cover - the extension is optional
    _lrn_kernel = None


@register("LRN")
class LRN(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        lp = param.lrn_param
        need(_lrn_kernel is not None, "the compiled LRN kernel")
        need(len(bottom_shapes) == 1 and len(param.top) == 1 and len(bottom_shapes[0]) == 4,
             "LRN of one 4-axis bottom")
        need(lp.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS, "LRN within channels")
        self.size = int(lp.local_size)
        need(self.size % 2 == 1, "LRN local_size must be odd")
        f32 = np.float32
        self.beta32, self.k32 = float(f32(lp.beta)), float(f32(lp.k))
        self.alpha_over_size = float(f32(lp.alpha) / f32(self.size))
        # 2. * alpha_ * beta_ / size_ in double, stored as float
        self.cache_ratio = float(f32(2.0 * float(f32(lp.alpha)) * float(f32(lp.beta))
                                     / self.size))
        self._scratch = None

    def top_shapes(self, bottom_shapes):
        need(len(bottom_shapes[0]) == 4, "LRN of a 4-axis bottom")
        return [tuple(bottom_shapes[0])]

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
