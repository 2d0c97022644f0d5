"""ReLU6 against OpenCV 4 dnn (committed fixture, inputs in [-8, 8])."""
from tests.caffe_compat.opencv_fixtures import compare

# A clamp copies values: exact.
EXACT = 0.0


def test_relu6_matches_opencv():
    assert compare.extra_type_errors("ReLU6", ["relu6"]) <= EXACT
