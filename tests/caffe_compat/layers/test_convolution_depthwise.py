"""ConvolutionDepthwise (OpenCV maps it to Convolution) and Convolution with two bottoms sharing
its weights (OpenCV splits it into one layer per top) against OpenCV 4 dnn."""
from tests.caffe_compat.opencv_fixtures import compare

# float32 convolution sums in another order: ~1e-7 of the scale.
TOL = compare.DENSE_TOL


def test_depthwise_and_two_bottom_convolution_match_opencv():
    assert compare.extra_type_errors("ConvolutionDepthwise / two-bottom Convolution",
                                     ["dw", "conv_x", "conv_y"]) <= TOL
