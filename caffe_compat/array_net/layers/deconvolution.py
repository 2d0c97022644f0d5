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
from ...rules.fields import ENGINE_FIELD, declare
from ..registry import register
from .convolution import ConvolutionGeometry

# axis other than 1, force_nd_im2col and the fillers it does not draw go to the torch engine
declare("array", "Deconvolution", "ConvolutionParameter", conv_rule.FIELDS - {"axis"},
        refuses={"axis", "force_nd_im2col"} | conv_rule.FILLERS, no_effect=ENGINE_FIELD)


@register("Deconvolution")
class Deconvolution(ConvolutionGeometry):
    transposed = True

    def _geometry(self):
        return self.stride, self.pad, self.dilation, self.group

    def forward(self, bottoms, tops, params):
        x, y, w = bottoms[0], tops[0], params[0]
        # the top plays the convolution's input: only its shape is read for an input gradient
        caffe_products.conv2d_grads_into(y, w, x, y, None, *self._geometry(),
                                         array_kernel_threads(x.size * w[0].size))
        if self.bias_term:
            y += params[1].reshape(1, -1, 1, 1)

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
        if self.bias_term and param_diffs[1] is not None:
            param_diffs[1] += dy.sum(axis=(0, 2, 3), dtype=np.float32)
        if dx is not None:
            caffe_products.conv2d_into(dy, w, dx, *self._geometry(), threads)
