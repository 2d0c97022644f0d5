"""Deconvolution: ONNX ConvTranspose with Caffe's geometry (2-D).

Caffe's DeconvolutionLayer (the backward of a convolution): output ``stride (in - 1) +
dilation (k - 1) + 1 - 2 pad``, weights ``(channels, num_output / group, kh, kw)`` (ONNX's
ConvTranspose layout), bias ``(num_output,)`` when ``bias_term``.
"""
from ._common import register
from .convolution import conv_like


@register("Deconvolution")
def deconvolution(g, lp, bottoms, blobs):
    return conv_like(g, lp, bottoms, blobs, "ConvTranspose",
                     lambda c, out_c, group: (c, out_c // group),
                     lambda e, k, s, pad, d: s * (e - 1) + d * (k - 1) + 1 - 2 * pad)
