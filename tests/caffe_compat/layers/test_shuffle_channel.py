"""ShuffleChannel against OpenCV 4 dnn (committed fixture, 6 channels in 3 groups) and its
channel order on a ramp."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.opencv_fixtures import compare

# A permutation of channels: exact.
EXACT = 0.0
TEXT = 'name: "s" type: "ShuffleChannel" bottom: "x" top: "y" shuffle_channel_param { group: 3 }'


def test_shuffle_channel_matches_opencv():
    assert compare.extra_type_errors("ShuffleChannel", ["shuffle"]) <= EXACT


def test_channel_order():
    y = make_layer(TEXT, (1, 12, 1, 1))(torch.arange(12.0).reshape(1, 12, 1, 1))
    assert y.reshape(-1).tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]


def test_groups_must_divide_the_channels():
    with pytest.raises(NetError, match="layer 's'.*cannot be split into 3 groups"):
        make_layer(TEXT, (1, 4, 2, 2))
