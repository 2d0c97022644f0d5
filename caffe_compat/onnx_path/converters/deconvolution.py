"""Deconvolution: ONNX ConvTranspose with Caffe's geometry (2-D; the rule in
:mod:`caffe_compat.rules.convolution`): weights ``(channels, num_output / group, kh, kw)`` are
ONNX's ConvTranspose layout."""
from ._common import register
from .convolution import conv_like


@register("Deconvolution")
def deconvolution(g, lp, bottoms, blobs):
    return conv_like(g, lp, bottoms, blobs, "ConvTranspose", True)
