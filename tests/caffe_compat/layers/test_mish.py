"""Mish against OpenCV 4 dnn (committed fixture, inputs in [-8, 8])."""
from tests.caffe_compat.opencv_fixtures import compare

# tanh / softplus of float32 in two libraries: ~1e-7 of the scale.
TOL = compare.DENSE_TOL


def test_mish_matches_opencv():
    assert compare.extra_type_errors("Mish", ["mish"]) <= TOL
