"""Proposal against OpenCV 4 dnn (committed fixture: 3 ratios x 2 scales, stride 8, clipping to
a 47 x 71 image, pre- and post-NMS limits, with and without the scores top)."""
import pytest

from caffe_compat import NetError
from caffe_compat.layers._detection import DetectionWarning
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# The same ROIs; corners in pixels decoded in float32 with exp: within 1e-4 of the image width.
TOL = compare.DET_TOL
SPEC = "proposal_param { ratio: 1 scale: 8 }"


def test_proposal_matches_opencv():
    worst = compare.report("Proposal vs OpenCV 4", compare.check_case(
        "Proposal", cases.proposal_case(), box_scale=71.0))
    assert worst <= TOL


def test_min_size_is_named_as_unused():
    with pytest.warns(DetectionWarning, match="layer 'p': proposal_param.min_size not used"):
        make_layer(f'name: "p" type: "Proposal" bottom: "s" bottom: "d" bottom: "i" top: "r" '
                   f'proposal_param {{ ratio: 1 scale: 8 min_size: 4 }}',
                   (1, 2, 3, 3), (1, 4, 3, 3), (1, 3))


def test_shapes_are_checked():
    with pytest.raises(NetError, match=r"layer 'p'.*scores must be \(1, 2 x 1 anchors"):
        make_layer(f'name: "p" type: "Proposal" bottom: "s" bottom: "d" bottom: "i" top: "r" '
                   f'{SPEC}', (1, 4, 3, 3), (1, 4, 3, 3), (1, 3))
