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
from ...rules.convolution import FIELDS, FILLERS, convolution_rule
from ...rules.fields import ENGINE_FIELD, declare
from .base import RuleBlobsLayer, need


# axis other than 1, force_nd_im2col and the fillers it does not draw go to the torch engine
declare("array", ("Convolution", "ConvolutionDepthwise"), "ConvolutionParameter",
        FIELDS - {"axis"}, refuses={"axis", "force_nd_im2col"} | FILLERS,
        no_effect=ENGINE_FIELD)


class ConvolutionGeometry(RuleBlobsLayer):
    """The set-up Convolution and Deconvolution share: one 4-axis bottom on axis 1, the
    compiled kernels, the rule's geometry (``transposed``: Deconvolution's), its parameter
    shapes, fillers and top shape."""
    transposed = False

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        kind = self.type
        need(caffe_products.available(), "the compiled kernel")
        need(len(bottom_shapes) == 1 and len(param.top) == 1, f"{kind} of one bottom")
        rule = self.rule = convolution_rule(param, bottom_shapes, self.transposed)
        need(len(bottom_shapes[0]) == 4 and rule.axis == 1 and not rule.force_nd_im2col,
             f"{kind} of a 4-axis blob")
        self.kernel, self.pad = rule.kernel, rule.pad
        self.stride, self.dilation = rule.stride, rule.dilation
        need(min(self.dilation) > 0, f"{kind} dilation")
        self.group, self.num_output = rule.group, rule.num_output
        self.channels, self.bias_term = rule.channels, rule.bias_term
        self.top_shapes(bottom_shapes)

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        need(len(shape) == 4 and shape[1] == self.channels,
             f"{self.type} input channels changed")
        return [self.rule.top_shape(shape)]


@register("Convolution")
class Convolution(ConvolutionGeometry):
    defers_weight_grad = True

    def forward(self, bottoms, tops, params):
        x, y, w = bottoms[0], tops[0], params[0]
        work = y.size * w[0].size
        caffe_products.conv2d_into(x, w, y, self.stride, self.pad, self.dilation, self.group,
                                   array_kernel_threads(work))
        if self.bias_term:
            y += params[1].reshape(1, -1, 1, 1)

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


@register("ConvolutionDepthwise")
class ConvolutionDepthwise(Convolution):
    """The MobileNet forks' name for Caffe's Convolution (``group`` as given), as OpenCV 4's
    importer and the torch layer take it."""
