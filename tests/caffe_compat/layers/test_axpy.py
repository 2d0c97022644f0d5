"""Axpy: the fork's ``a * X + Y``. OpenCV 4 computes ``a * Y + X`` (its importer passes the
bottoms to Scale in another order), checked here against the committed OpenCV output."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# One multiply-add per value in float32: ~1e-7 of the scale.
TOL = compare.DENSE_TOL


def test_axpy_is_the_forks_formula_and_opencv_swaps_x_and_y():
    ours, theirs = compare.run_case("OpenCV departures", cases.opencv_departures_case())
    ref = compare.fixture("OpenCV departures")
    a, x, y = ref["in/a"], ref["in/x"], ref["in/y"]
    assert compare.dense_error(ours["axpy"], a * x + y) <= TOL
    assert compare.dense_error(theirs["axpy"], a * y + x) <= TOL


def test_scale_of_shape_n_c_and_errors():
    layer = make_layer('name: "ax" type: "Axpy" bottom: "a" bottom: "x" bottom: "y" top: "f"',
                       (2, 3), (2, 3, 2, 2), (2, 3, 2, 2))
    a = torch.tensor([[1.0, 2, 3], [4, 5, 6]])
    f = layer(a, torch.ones(2, 3, 2, 2), torch.zeros(2, 3, 2, 2))
    assert np.array_equal(f[:, :, 0, 0].numpy(), a.numpy())
    with pytest.raises(NetError, match="layer 'ax'"):
        make_layer('name: "ax" type: "Axpy" bottom: "a" bottom: "x" bottom: "y" top: "f"',
                   (2, 4), (2, 3, 2, 2), (2, 3, 2, 2))
