"""Deconvolution of a 4-axis blob (Caffe's DeconvolutionLayer): the transpose of
:mod:`.convolution` with the same compiled kernels. Forward: per image Caffe's
``backward_cpu_gemm`` (``W^T x`` and col2im into the top; ``conv2d_grads_into``'s input
gradient of a convolution whose input is the top and whose top diff is the bottom), then the
bias. Backward: the bottom diff ``forward_cpu_gemm`` of the top diff (``conv2d_into``), the
weight gradient ``weight_cpu_gemm(top diff, bottom)`` (``conv2d_grads_into``'s weight
gradient, image after image) added into the weight diff, the bias gradient the sum of the top
diff per channel. Weights ``(C, num_output / group, kh, kw)``."""
import numpy as np

from ...kernels import caffe_products
from ...parallel.threads import array_kernel_threads
from ...rules import convolution as conv_rule
from ...rules.convolution import convolution_rule
from ...rules.fields import ENGINE_FIELD, declare
from ..registry import register
from .base import ArrayLayer, need

# axis other than 1, force_nd_im2col and the fillers it does not draw go to the torch engine
declare("array", "Deconvolution", "ConvolutionParameter", conv_rule.FIELDS - {"axis"},
        refuses={"axis", "force_nd_im2col"} | conv_rule.FILLERS, no_effect=ENGINE_FIELD)


@register("Deconvolution")
class Deconvolution(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        cp = param.convolution_param
        need(caffe_products.available(), "the compiled kernel")
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Deconvolution of one bottom")
        need(len(bottom_shapes[0]) == 4 and cp.axis in (1, -3) and not cp.force_nd_im2col,
             "Deconvolution of a 4-axis blob")
        rule = self.rule = convolution_rule(param, bottom_shapes, transposed=True)
        need(min(rule.dilation) > 0, "Deconvolution dilation")
        self.top_shapes(bottom_shapes)

    def param_shapes(self):
        return self.rule.param_shapes()

    def filler_params(self):
        cp = self.param.convolution_param
        return [cp.weight_filler, cp.bias_filler][:len(self.param_shapes())]

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        need(len(shape) == 4 and shape[1] == self.rule.channels,
             "Deconvolution input channels changed")
        return [self.rule.top_shape(shape)]

    def _geometry(self):
        r = self.rule
        return r.stride, r.pad, r.dilation, r.group

    def forward(self, bottoms, tops, params):
        x, y, w = bottoms[0], tops[0], params[0]
        # the top plays the convolution's input: only its shape is read for an input gradient
        caffe_products.conv2d_grads_into(y, w, x, y, None, *self._geometry(),
                                         array_kernel_threads(x.size * w[0].size))
        if self.rule.bias_term:
            y += params[1].reshape(1, -1, 1, 1)

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        x, w = bottoms[0], params[0]
        dy = np.ascontiguousarray(top_diffs[0])
        dx = bottom_diffs[0]
        dw = param_diffs[0] if param_diffs else None
        threads = array_kernel_threads(x.size * w[0].size)
        if dw is not None:
            gw = np.empty_like(w)
            caffe_products.conv2d_grads_into(dy, w, x, None, gw, *self._geometry(), threads)
            dw += gw
        if self.rule.bias_term and param_diffs[1] is not None:
            param_diffs[1] += dy.sum(axis=(0, 2, 3), dtype=np.float32)
        if dx is not None:
            caffe_products.conv2d_into(dy, w, dx, *self._geometry(), threads)
