"""MultinomialLogisticLoss against Caffe 1.0 (layerzoo_a_loss: after a Softmax, weight 0.3)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float32 logs and reciprocals of probabilities vs float64: relative 1e-6.
REL_TOL = 1e-6


def mll(shape=(3, 4), label=(3,)):
    return make_layer('name: "mll" type: "MultinomialLogisticLoss"', shape, label)


def test_multinomial_logistic_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_loss", "MultinomialLogisticLoss"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_threshold_clamp_and_caffe_gradient():
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    label = [3, 0, 1]
    x = tensor(p, grad=True)
    loss = mll()(x, tensor(label))
    loss.backward()
    picked = np.maximum(p[np.arange(3), label], 1e-20)     # p = 0 is clamped to kLOG_THRESHOLD
    ref = -np.log(picked).sum() / 3
    assert abs(loss.item() - ref) <= REL_TOL * ref
    grad = np.zeros_like(p)
    grad[np.arange(3), label] = -1 / (3 * picked)            # also where the clamp is active
    assert np.all(np.abs(x.grad.numpy() - grad) <= REL_TOL * np.abs(grad))


def test_label_shape_names_layer():
    with pytest.raises(NetError, match="layer 'mll'.*label blob"):
        mll(label=(3, 2))
