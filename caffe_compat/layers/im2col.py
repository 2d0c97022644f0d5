"""Im2col: Caffe's im2col of the bottom as a layer (the column buffer a convolution multiplies).

Geometry from ``convolution_param`` as Caffe's Im2colLayer reads it: ``axis`` (default 1) is the
channel axis, every later axis is spatial (1, 2, 3 or more; ``kernel_h/_w``, ``stride_h/_w``,
``pad_h/_w`` only for 2 spatial axes), ``kernel_size`` / ``stride`` / ``pad`` / ``dilation``
once or once per spatial axis. ``num_output``, ``group``, ``bias_term`` and ``force_nd_im2col``
do not change the result (Caffe's 2-D and N-D im2col write the same layout).

Top shape: the bottom's with the channel axis multiplied by the kernel size and each spatial
axis replaced by ``(in + 2 pad - (dilation (k - 1) + 1)) / stride + 1`` in C's integer division
(truncated toward zero: a kernel longer than the padded input by less than a stride has one
position, reading zeros past the end). Layout, as
Caffe's im2col: for every item (the axes before ``axis``), rows ordered channel-major
``(c, k_1, ..., k_n)`` and each row the output positions in row-major order; positions that
fall in the padding are 0. Backward is Caffe's col2im: each column value's gradient is added to
the input position it was copied from (nothing for padding).
"""
import math

import torch
import torch.nn.functional as F

from .base import Layer, canonical_axis
from ..rules.spatial import far_padding, spatial_values, window_count
from .registry import register_layer
from ..rules import convolution as conv_rule
from ..rules.fields import declare

_NOT_READ = "Caffe's Im2colLayer does not read it"
declare("torch", "Im2col", "ConvolutionParameter",
        conv_rule.FIELDS - {"num_output", "bias_term", "group"},
        no_effect={**dict.fromkeys(("num_output", "bias_term", "group", "engine",
                                    *conv_rule.FILLERS), _NOT_READ),
                   **conv_rule.ND_IM2COL})


@register_layer("Im2col")
class Im2col(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        cp = param.convolution_param
        shape = self.bottom_shapes[0]
        self.axis = canonical_axis(cp.axis, len(shape), self.name)
        n = len(shape) - self.axis - 1
        if n < 1:
            self.fail(f"needs at least one spatial axis after the channel axis {self.axis} "
                      f"(bottom shape {shape})")
        self.n = n
        self.kernel = spatial_values(param, cp, "kernel", n, None, "kernel_size", self.type_name)
        self.stride = spatial_values(param, cp, "stride", n, 1, None, self.type_name)
        self.pad = spatial_values(param, cp, "pad", n, 0, None, self.type_name)
        self.dilation = spatial_values(param, cp, "dilation", n, 1, None, self.type_name)
        if any(k <= 0 for k in self.kernel):
            self.fail(f"kernel dimensions must be positive, got {self.kernel}")
        if any(s <= 0 for s in self.stride):
            self.fail(f"stride must be positive, got {self.stride}")
        if any(d <= 0 for d in self.dilation):
            self.fail(f"dilation must be positive, got {self.dilation}")
        self.top_shapes(self.bottom_shapes)

    def per_item(self):
        return self.axis >= 1

    def _out_sizes(self, spatial):
        out = []
        for i, size in enumerate(spatial):
            extent = self.dilation[i] * (self.kernel[i] - 1) + 1
            out.append(window_count(size, self.pad[i], extent, self.stride[i]))
        return out

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if len(shape) != self.axis + 1 + self.n:
            self.fail(f"bottom shape {shape} does not have the {self.n} spatial axes the layer "
                      "was set up with")
        out = self._out_sizes(shape[self.axis + 1:])
        if any(d < 0 for d in out):
            self.fail(f"the kernel extent exceeds the padded input: output size {out} for "
                      f"bottom shape {shape}")
        channels = shape[self.axis] * math.prod(self.kernel)
        return [shape[:self.axis] + (channels,) + tuple(out)]

    def forward(self, x):
        (top,) = self.top_shapes([x.shape])
        lead, spatial = x.shape[:self.axis], x.shape[self.axis + 1:]
        items = math.prod(lead)
        if 0 in top:
            return x.new_zeros(top)
        x = x.reshape((items, x.shape[self.axis]) + tuple(spatial))
        extra = [far_padding(int(d), self.pad[i], self.dilation[i] * (self.kernel[i] - 1) + 1)
                 for i, d in enumerate(spatial)]
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
        out = self._out_sizes(spatial)
        for i in range(self.n):
            dim = 2 + i
            extent = self.dilation[i] * (self.kernel[i] - 1) + 1
            # windows of the kernel extent along this axis, then every dilation-th of them
            y = y.unfold(dim, extent, self.stride[i])[..., ::self.dilation[i]]
            y = y.narrow(dim, 0, out[i])
        # (items, C, o_1..o_n, k_1..k_n) -> (items, C, k_1..k_n, o_1..o_n)
        order = [0, 1] + [2 + self.n + i for i in range(self.n)] + [2 + i for i in range(self.n)]
        return y.permute(order).reshape(top)
