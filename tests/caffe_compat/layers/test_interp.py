"""Interp against OpenCV 4 dnn (committed fixture: zoom_factor, explicit height/width) and the
fork's shrink_factor / pad rule, where OpenCV departs (its output is checked against the
measured rule: zoom only)."""
import numpy as np
import torch
import torch.nn.functional as F

from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# Bilinear weights in float32 computed in another order: ~1e-7 of the scale.
TOL = compare.DENSE_TOL


def test_interp_matches_opencv():
    assert compare.extra_type_errors("Interp", ["zoom", "sized"]) <= TOL


def test_shrink_and_crop_follow_the_fork_where_opencv_ignores_them():
    ours, theirs = compare.run_case("OpenCV departures", cases.opencv_departures_case())
    x = torch.from_numpy(compare.fixture("OpenCV departures")["in/x"])
    # the fork: (4, 5) shrunk by 2 -> (2, 3), zoomed by 3 -> (4, 7); cropped by 1 then zoomed
    assert ours["shrink_zoom"].shape[2:] == (4, 7) and ours["cropped"].shape[2:] == (5, 7)
    want = F.interpolate(x[:, :, :3, :4], size=(5, 7), mode="bilinear", align_corners=True)
    assert compare.dense_error(ours["cropped"], want.numpy()) <= TOL
    # OpenCV 4.14: zoom_factor alone, the rest ignored
    for name, size in (("shrink_zoom", (10, 13)), ("cropped", (7, 9))):
        opencv_rule = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        assert compare.dense_error(opencv_rule.numpy(), theirs[name]) <= TOL


def test_second_bottom_gives_the_size():
    layer = make_layer('name: "i" type: "Interp" bottom: "x" bottom: "r" top: "y"',
                       (1, 2, 3, 4), (1, 1, 6, 5))
    y = layer(torch.ones(1, 2, 3, 4), torch.zeros(1, 1, 6, 5))
    assert tuple(y.shape) == (1, 2, 6, 5) and np.allclose(y.numpy(), 1.0)
