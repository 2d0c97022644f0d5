"""Threshold against Caffe 1.0 (layerzoo_a_misc: threshold 0.4)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import FORWARD_TOL, check_layer_type

# Outputs are 0 or 1: exact.
EXACT = 0.0


def test_threshold_matches_caffe():
    assert report(check_layer_type("layerzoo_a_misc", "Threshold")) <= FORWARD_TOL


def test_value_at_threshold_gives_zero_and_no_gradient():
    layer = make_layer('name: "t" type: "Threshold" threshold_param { threshold: 0.4 }', (4,))
    x = tensor(np.float32([0.3, 0.4, np.nextafter(np.float32(0.4), 1), 2.0]), grad=True)
    y = layer(x)
    assert np.abs(y.numpy() - [0.0, 0.0, 1.0, 1.0]).max() <= EXACT   # strictly greater
    assert not y.requires_grad                                       # Caffe has no backward


def test_two_tops_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" input_param { shape { dim: 2 } } }
    layer { name: "thr_bad" type: "Threshold" bottom: "a" top: "y" top: "z" }
    """
    with pytest.raises(NetError, match="thr_bad"):
        Net(text)
