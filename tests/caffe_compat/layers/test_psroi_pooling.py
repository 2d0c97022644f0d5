"""PSROIPooling against OpenCV 4 dnn (committed fixture: 2 x 3 x 3 position-sensitive maps,
a batch of two, ROIs partly outside, a degenerate ROI)."""
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# Averages of a few float32 values summed in another order: ~1e-7 of the scale.
TOL = compare.DENSE_TOL


def test_psroi_pooling_matches_opencv():
    worst = compare.report("PSROIPooling vs OpenCV 4", compare.check_case(
        "PSROIPooling", cases.psroi_pooling_case()))
    assert worst <= TOL


def test_channel_count_is_checked():
    with pytest.raises(NetError, match="layer 'ps'.*17 channels; output_dim x group_size"):
        make_layer('name: "ps" type: "PSROIPooling" bottom: "f" bottom: "r" top: "y" '
                   'psroi_pooling_param { spatial_scale: 1 output_dim: 2 group_size: 3 }',
                   (1, 17, 5, 5), (3, 5))
