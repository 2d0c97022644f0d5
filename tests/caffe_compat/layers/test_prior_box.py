"""PriorBox and PriorBoxClustered against OpenCV 4 dnn (committed fixture: min/max sizes with
flipped aspect ratios and clipping, no flip with a repeated ratio, step and offset, step_h/step_w
with four variances, explicit sizes, two offsets per cell, odd feature and image sizes)."""
import pytest

from caffe_compat import NetError
from caffe_compat.layers._detection import DetectionWarning
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# The same float32 operations in the same order as OpenCV's loop: exact in practice; 1e-6 of
# the scale allows a compiler's fused multiply-add in OpenCV's build.
TOL = 1e-6

BOTTOMS = ((1, 4, 5, 7), (1, 3, 41, 53))


def test_prior_box_matches_opencv():
    worst = compare.report("PriorBox vs OpenCV 4", compare.check_case(
        "PriorBox", cases.prior_box_case()))
    assert worst <= TOL


def test_image_size_fields_warn_that_they_are_not_used():
    with pytest.warns(DetectionWarning, match="layer 'pb'.*img_h, img_w not used"):
        make_layer('name: "pb" type: "PriorBox" bottom: "f" bottom: "i" top: "p" '
                   'prior_box_param { min_size: 4 img_h: 300 img_w: 300 }', *BOTTOMS)


@pytest.mark.parametrize("spec, message", [
    ("aspect_ratio: 2", "min_size must be given"),
    ("min_size: 8 max_size: 4", r"max_size \(4\) must be larger than min_size \(8\)"),
    ("width: 3 height: 4 min_size: 2", "explicit width/height priors take no min_size"),
    ("min_size: 3 step: 4 step_h: 2 step_w: 2", "either step or step_h/step_w"),
    ("min_size: 3 variance: 0.1 variance: 0.2", "variance must be given once or 4 times"),
])
def test_bad_parameters(spec, message):
    with pytest.raises(NetError, match=f"layer 'pb'.*{message}"):
        make_layer(f'name: "pb" type: "PriorBox" bottom: "f" bottom: "i" top: "p" '
                   f'prior_box_param {{ {spec} }}', *BOTTOMS)
