"""HingeLoss against Caffe 1.0 (layerzoo_a_loss: L2)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Sums of 9 float32 terms of size <= ~9 vs float64.
TOL = 1e-5
X = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -1.0], [-0.3, 0.2, 3.0]], np.float32)
LABEL = np.array([2, 1, 0], np.float32)


def hinge(norm=""):
    return make_layer(f'name: "h" type: "HingeLoss" {norm}', (3, 3), (3,))


def margins():
    sign = np.ones_like(X)
    sign[np.arange(3), LABEL.astype(int)] = -1
    return np.maximum(0, 1 + sign * X), sign


def test_hinge_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_loss", "HingeLoss"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_l1_default_with_zero_gradient_at_the_margin():
    x = tensor(X, grad=True)
    loss = hinge()(x, tensor(LABEL))
    loss.backward()
    m, sign = margins()
    assert abs(loss.item() - m.sum() / 3) <= TOL
    # X[1, 2] = -1 sits exactly at the margin (1 + x = 0): Caffe's sign(0) = 0
    assert m[1, 2] == 0 and x.grad.numpy()[1, 2] == 0.0
    assert np.abs(x.grad.numpy() - sign * np.sign(m) / 3).max() <= TOL


def test_l2():
    x = tensor(X, grad=True)
    loss = hinge("hinge_loss_param { norm: L2 }")(x, tensor(LABEL))
    loss.backward()
    m, sign = margins()
    assert abs(loss.item() - (m ** 2).sum() / 3) <= TOL
    assert np.abs(x.grad.numpy() - 2 * sign * m / 3).max() <= TOL


def test_label_count_names_layer():
    with pytest.raises(NetError, match="layer 'hinge_bad'.*one label"):
        make_layer('name: "hinge_bad" type: "HingeLoss"', (3, 3), (3, 2))
