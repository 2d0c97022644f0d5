"""ROIPooling against OpenCV 4 dnn (committed fixture: two grids and scales, ROIs partly outside
the map, a one-cell ROI, an ROI beyond the map, a batch of two)."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# A max copies a value: exact.
EXACT = 0.0


def test_roi_pooling_matches_opencv():
    worst = compare.report("ROIPooling vs OpenCV 4", compare.check_case(
        "ROIPooling", cases.roi_pooling_case()))
    assert worst <= EXACT


def test_gradient_goes_to_the_maximum():
    layer = make_layer('name: "r" type: "ROIPooling" bottom: "f" bottom: "r" top: "y" '
                       'roi_pooling_param { pooled_h: 1 pooled_w: 1 }', (1, 1, 3, 3), (1, 5))
    x = leaf(np.arange(9.0).reshape(1, 1, 3, 3))
    y = layer(x, torch.tensor([[0.0, 0, 0, 1, 1]], dtype=torch.float64))
    y.sum().backward()
    assert y.item() == 4.0 and x.grad.reshape(-1).tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_batch_index_out_of_range():
    layer = make_layer('name: "r" type: "ROIPooling" bottom: "f" bottom: "r" top: "y" '
                       'roi_pooling_param { pooled_h: 2 pooled_w: 2 }', (1, 1, 3, 3), (1, 5))
    with pytest.raises(NetError, match="layer 'r'.*batch index 3 is outside the batch of 1"):
        layer(torch.zeros(1, 1, 3, 3), torch.tensor([[3.0, 0, 0, 1, 1]]))
