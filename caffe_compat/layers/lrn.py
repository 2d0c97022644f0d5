"""LRN: local response normalisation, Caffe's two regions (4-axis bottoms, odd ``local_size``).

ACROSS_CHANNELS: ``x / (k + alpha / n * sum of x^2 over n neighbouring channels)^beta``, the
channel window zero-padded at both ends: Caffe sums over a copy of the squares with
``(n-1)/2`` zero channels before and after (its ``padded_square``), so ``n`` may exceed the
channel count (AlexNet-style ``local_size: 5`` on a 3-channel blob), forward and backward.
WITHIN_CHANNEL (Caffe builds it from Power, AVE Pooling and Eltwise layers):
``x / (1 + alpha * avg)^beta`` where ``avg`` is the sum of x^2 over the n x n spatial window
(zero-padded by (n-1)/2) divided by n^2 everywhere, borders included; ``k`` is not used at all.
Both backward passes are the true gradients of these forms, as Caffe's are.
"""
import torch.nn.functional as F

from ..proto import caffe_pb2
from .base import Layer
from .registry import register_layer

L = caffe_pb2.LRNParameter


@register_layer("LRN")
class LRN(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        lp = param.lrn_param
        self.size = int(lp.local_size)
        if self.size % 2 != 1:
            self.fail(f"local_size must be odd, got {lp.local_size}")
        self.pre_pad = (self.size - 1) // 2
        self.alpha, self.beta, self.k = float(lp.alpha), float(lp.beta), float(lp.k)
        self.region = lp.norm_region
        if self.region not in (L.ACROSS_CHANNELS, L.WITHIN_CHANNEL):
            self.fail(f"unknown norm_region {self.region}")
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if len(shape) != 4:
            self.fail(f"bottom must have 4 axes (num, channels, height, width), got {shape}")
        return [shape]

    def forward(self, x):
        sq = x * x
        if self.region == L.ACROSS_CHANNELS:
            # the zero channels are part of the input (torch's pooling refuses a window wider
            # than its unpadded input), as in Caffe's padded_square
            padded = F.pad(sq, (0, 0, 0, 0, self.pre_pad, self.pre_pad))
            window_mean = F.avg_pool3d(padded.unsqueeze(1), (self.size, 1, 1),
                                       stride=1).squeeze(1)
            scale = self.k + self.alpha * window_mean
        else:
            window_mean = F.avg_pool2d(sq, self.size, stride=1, padding=self.pre_pad,
                                       count_include_pad=True)
            scale = 1.0 + self.alpha * window_mean
        return x * scale.pow(-self.beta)
