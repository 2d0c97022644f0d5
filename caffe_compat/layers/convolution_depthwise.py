"""ConvolutionDepthwise: the depthwise convolution layer of MobileNet Caffe forks. OpenCV 4's
importer maps it to Convolution with the same ``convolution_param`` (``group`` as given), and so
does this module: Caffe's Convolution in every respect, under this type name."""
from .convolution import Convolution
from .registry import register_layer


@register_layer("ConvolutionDepthwise")
class ConvolutionDepthwise(Convolution):
    pass
