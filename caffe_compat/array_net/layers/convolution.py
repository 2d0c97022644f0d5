"""Convolution of a 4-axis blob (``axis: 1``; any kernel, stride, padding, dilation, groups):
Caffe's im2col + sgemm per image and group in OpenBLAS's summation order, then the bias added
(``caffe_compat.kernels.caffe_products.conv2d_into``; the gemm with the bias multiplier adds
each bias once: ``y + b``). Backward: the input and weight gradients of the same kernel in
Caffe's order (``conv2d_grads_into``: ``W^T dY`` and col2im per image, ``dY col^T`` image after
image), added into the weight diff; the bias gradient the sum of the top diff per channel. The
weight gradient may be left for when the diff is asked for (``add_weight_grad``,
:mod:`caffe_compat.array_net.deferred_grads`): the same kernel, the same bits."""
import numpy as np

from ...kernels import caffe_products
from ...parallel.threads import array_kernel_threads
from ..registry import register
from .base import ArrayLayer, need, two_d


@register("Convolution")
class Convolution(ArrayLayer):
    defers_weight_grad = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        cp = param.convolution_param
        need(caffe_products.available(), "the compiled kernel")
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Convolution of one bottom")
        need(len(bottom_shapes[0]) == 4 and cp.axis in (1, -3) and not cp.force_nd_im2col,
             "Convolution of a 4-axis blob")
        self.kernel = two_d("kernel", cp.kernel_size, cp.kernel_h, cp.kernel_w,
                            cp.HasField("kernel_h"), cp.HasField("kernel_w"), None)
        self.pad = two_d("pad", cp.pad, cp.pad_h, cp.pad_w, cp.HasField("pad_h"),
                         cp.HasField("pad_w"), 0)
        self.stride = two_d("stride", cp.stride, cp.stride_h, cp.stride_w,
                            cp.HasField("stride_h"), cp.HasField("stride_w"), 1)
        need(len(cp.dilation) <= 2, "dilation")
        self.dilation = two_d("dilation", cp.dilation, 0, 0, False, False, 1)
        need(min(self.kernel) > 0 and min(self.stride) > 0 and min(self.dilation) > 0
             and min(self.pad) >= 0, "Convolution geometry")
        self.group = int(cp.group)
        self.num_output = int(cp.num_output)
        channels = int(bottom_shapes[0][1])
        need(self.group > 0 and self.num_output > 0 and channels % self.group == 0
             and self.num_output % self.group == 0, "Convolution groups")
        self.channels = channels
        self.bias_term = bool(cp.bias_term)
        self.top_shapes(bottom_shapes)

    def param_shapes(self):
        shapes = [(self.num_output, self.channels // self.group) + self.kernel]
        return shapes + [(self.num_output,)] if self.bias_term else shapes

    def filler_params(self):
        cp = self.param.convolution_param
        return [cp.weight_filler, cp.bias_filler][:len(self.param_shapes())]

    def top_shapes(self, bottom_shapes):
        n, c, h, w = bottom_shapes[0]
        need(c == self.channels, "Convolution input channels changed")
        out = []
        for size, k, p, s, d in zip((h, w), self.kernel, self.pad, self.stride, self.dilation):
            extent = d * (k - 1) + 1
            out.append((size + 2 * p - extent) // s + 1)
        need(min(out) > 0, "Convolution output would be empty")
        return [(n, self.num_output, out[0], out[1])]

    def forward(self, bottoms, tops, params):
        x, y, w = bottoms[0], tops[0], params[0]
        work = y.size * w[0].size
        caffe_products.conv2d_into(x, w, y, self.stride, self.pad, self.dilation, self.group,
                                   array_kernel_threads(work))
        if self.bias_term:
            y += params[1].reshape(1, -1, 1, 1)

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        x, w, dy = bottoms[0], params[0], top_diffs[0]
        dx = bottom_diffs[0]
        dw = param_diffs[0] if param_diffs else None
        if dx is not None or dw is not None:
            gw = None if dw is None else np.empty_like(w)
            work = dy.size * w[0].size * ((dx is not None) + (dw is not None))
            caffe_products.conv2d_grads_into(x, w, dy, dx, gw, self.stride, self.pad,
                                             self.dilation, self.group,
                                             array_kernel_threads(work))
            if dw is not None:
                dw += gw
        if self.bias_term and param_diffs[1] is not None:
            param_diffs[1] += dy.sum(axis=(0, 2, 3), dtype=np.float32)

    def add_weight_grad(self, x, w, dy, dw):
        """Add into ``dw`` the weight gradient of a backward with bottom data ``x`` and top
        diff ``dy`` (what :meth:`backward` adds; ``w`` gives the kernel its shape)."""
        gw = np.empty_like(w)
        caffe_products.conv2d_grads_into(x, w, dy, None, gw, self.stride, self.pad,
                                         self.dilation, self.group,
                                         array_kernel_threads(dy.size * w[0].size))
        dw += gw
