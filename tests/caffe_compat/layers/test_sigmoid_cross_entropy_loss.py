"""SigmoidCrossEntropyLoss against Caffe 1.0 (layerzoo_a_loss: loss_weight 0.5)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# A sum of 8 float32 log-terms of size ~1-50 vs float64: ~1e-5 relative at worst, absolute here.
TOL = 2e-5
X = np.array([[-60.0, -1.0, 0.0, 2.0], [0.5, 30.0, -3.0, 1.0]])
T = np.array([[0.0, 1.0, 0.5, 1.0], [1.0, 0.0, 0.0, 0.3]], np.float32)


def sce(loss_param="", shape=(2, 4)):
    return make_layer(f'name: "sce" type: "SigmoidCrossEntropyLoss" loss_param {{ {loss_param} }}',
                      shape, shape)


def terms():
    p = 1 / (1 + np.exp(-X))
    return np.logaddexp(0, X) - X * T, p - T     # -[t log p + (1-t) log(1-p)], dL/dx


def test_sigmoid_cross_entropy_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_loss", "SigmoidCrossEntropyLoss"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_default_normalization_is_batch_size_and_stable():
    x = tensor(X, grad=True)
    loss = sce()(x, tensor(T))
    loss.backward()
    per, grad = terms()
    assert abs(loss.item() - per.sum() / 2) <= TOL          # divided by N = 2, not by 8
    assert np.abs(x.grad.numpy() - grad / 2).max() <= TOL


def test_ignore_label_truncates_targets():
    # ignore_label 0: targets 0.0, 0.5 and 0.3 all truncate to 0 and are ignored (5 of 8).
    x = tensor(X, grad=True)
    loss = sce("ignore_label: 0 normalization: VALID")(x, tensor(T))
    loss.backward()
    per, grad = terms()
    keep = T.astype(int) != 0
    assert keep.sum() == 3
    assert abs(loss.item() - per[keep].sum() / 3) <= TOL
    assert np.abs(x.grad.numpy() - np.where(keep, grad, 0) / 3).max() <= TOL
    loss_full = sce("ignore_label: 0 normalization: FULL")(tensor(X), tensor(T))
    assert abs(loss_full.item() - per[keep].sum() / 8) <= TOL


def test_count_mismatch_names_layer():
    with pytest.raises(NetError, match="layer 'sce_bad'.*same count"):
        make_layer('name: "sce_bad" type: "SigmoidCrossEntropyLoss"', (2, 4), (2, 3))
