"""Im2col: Caffe's im2col of the bottom as a layer (the column buffer a convolution multiplies),
with the geometry, top shape and refusals of :mod:`caffe_compat.rules.im2col`.

Layout, as Caffe's im2col: for every item (the axes before ``axis``), rows ordered channel-major
``(c, k_1, ..., k_n)`` and each row the output positions in row-major order; positions that
fall in the padding are 0. Backward is Caffe's col2im: each column value's gradient is added to
the input position it was copied from (nothing for padding).
"""
import math

import torch.nn.functional as F

from .base import Layer
from .registry import register_layer
from ..rules import im2col as im2col_rule
from ..rules.fields import declare

declare("torch", "Im2col", "ConvolutionParameter", im2col_rule.FIELDS,
        no_effect=im2col_rule.NO_EFFECT)


@register_layer("Im2col")
class Im2col(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = im2col_rule.im2col_rule(param, self.bottom_shapes[0], self.type_name)
        self.axis, self.n = rule.axis, rule.n
        self.kernel, self.stride = list(rule.kernel), list(rule.stride)
        self.pad, self.dilation = list(rule.pad), list(rule.dilation)

    item_wise = property(lambda self: self.axis >= 1)

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, x):
        (top,) = self.top_shapes([x.shape])
        lead, spatial = x.shape[:self.axis], x.shape[self.axis + 1:]
        items = math.prod(lead)
        if 0 in top:
            return x.new_zeros(top)
        x = x.reshape((items, x.shape[self.axis]) + tuple(spatial))
        extra = self.rule.far_padding(spatial)
        if any(extra):                  # the zeros Caffe's im2col reads past the end
            x = F.pad(x, [v for e in reversed(extra) for v in (0, e)])
            spatial = x.shape[2:]
        if self.n == 2:
            cols = F.unfold(x, self.kernel, self.dilation, self.pad, self.stride)
            return cols.reshape(top)
        pads = []
        for p in reversed(self.pad):
            pads += [p, p]
        y = F.pad(x, pads)
        out = self.rule.out_sizes(spatial)
        for i in range(self.n):
            dim = 2 + i
            extent = self.dilation[i] * (self.kernel[i] - 1) + 1
            # windows of the kernel extent along this axis, then every dilation-th of them
            y = y.unfold(dim, extent, self.stride[i])[..., ::self.dilation[i]]
            y = y.narrow(dim, 0, out[i])
        # (items, C, o_1..o_n, k_1..k_n) -> (items, C, k_1..k_n, o_1..o_n)
        order = [0, 1] + [2 + self.n + i for i in range(self.n)] + [2 + i for i in range(self.n)]
        return y.permute(order).reshape(top)
