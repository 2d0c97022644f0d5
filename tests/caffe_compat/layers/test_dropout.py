"""Dropout against Caffe 1.0 (layerzoo_a_act, TEST phase: identity) and Caffe's TRAIN scaling."""
import numpy as np
import pytest
import torch

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Kept values are x * (1/(1-p)) in float32: one rounding of the product.
SCALE_TOL = 1e-6
# 200k Bernoulli(0.7) draws: the keep fraction's std is ~1e-3; 5e-3 is five sigmas.
FRACTION_TOL = 5e-3
# Mean of 200k values x*mask/(1-p) with x = 1: std ~ sqrt(p/(1-p)/n) ~ 1.5e-3; 8e-3 ~ 5 sigmas.
MEAN_TOL = 8e-3


def test_dropout_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Dropout"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_test_phase_is_identity():
    layer = make_layer('name: "d" type: "Dropout" dropout_param { dropout_ratio: 0.3 }', (4, 5))
    x = tensor(np.random.RandomState(0).randn(4, 5))
    assert torch.equal(layer(x), x)


def test_train_phase_scales_kept_values():
    p = 0.3
    layer = make_layer(f'name: "d" type: "Dropout" dropout_param {{ dropout_ratio: {p} }}',
                       (200000,), phase="TRAIN")
    torch.manual_seed(0)
    x = torch.ones(200000)
    y = layer(x)
    kept = y != 0
    assert float(torch.abs(y[kept] - 1.0 / (1.0 - p)).max()) <= SCALE_TOL
    assert abs(float(kept.float().mean()) - (1 - p)) <= FRACTION_TOL
    assert abs(float(y.mean()) - 1.0) <= MEAN_TOL   # the scaling preserves the mean


def test_ratio_one_names_layer():
    with pytest.raises(NetError, match="layer 'drop_bad'"):
        make_layer('name: "drop_bad" type: "Dropout" dropout_param { dropout_ratio: 1.0 }', (3,))


def test_scale_train_false_matches_opencv():
    """Faster R-CNN's ``scale_train: false``: TEST multiplies by 1 - ratio, as OpenCV 4 does
    (committed fixture); one float32 product: exact."""
    from tests.caffe_compat.opencv_fixtures import compare
    assert compare.extra_type_errors("Dropout scale_train", ["drop"]) <= 0.0
