"""MVN against Caffe 1.0 (layerzoo_a_struct: per channel with variance; across channels
without) and Caffe's formulas: division by sqrt(var) + eps, and Caffe's backward, which is not
the exact gradient of that form."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64 unit checks: a mean, a variance and a square root away from the NumPy reference.
F64_TOL = 1e-12


def test_mvn_matches_caffe():
    fwd, bwd = report("MVN", check_layer_type("layerzoo_a_struct", "MVN"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def mvn(spec, shape):
    return make_layer(f'name: "m" type: "MVN" bottom: "x" top: "y" mvn_param {{ {spec} }}',
                      shape)


@pytest.mark.parametrize("across", [False, True])
def test_eps_is_added_to_the_standard_deviation_and_backward_is_caffes(across):
    rng = np.random.default_rng(13)
    x, dy = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5))
    eps = 0.5  # large, so that sqrt(var) + eps and sqrt(var + eps) differ clearly
    layer = mvn(f"eps: {eps} across_channels: {'true' if across else 'false'}", x.shape)
    t = leaf(x)
    top = layer(t)
    rows = x.reshape(2 if across else 6, -1)
    g = dy.reshape(rows.shape)
    denom = rows.std(axis=1, keepdims=True) + eps
    y = (rows - rows.mean(axis=1, keepdims=True)) / denom
    assert np.abs(top.detach().numpy() - y.reshape(x.shape)).max() <= F64_TOL
    top.backward(torch.from_numpy(dy))
    caffe = (g - g.mean(1, keepdims=True) - y * (g * y).mean(1, keepdims=True)) / denom
    assert np.abs(t.grad.numpy() - caffe.reshape(x.shape)).max() <= F64_TOL
    # The exact gradient has a factor (1 + eps / std) on the last term: Caffe's is not it.
    std = rows.std(axis=1, keepdims=True)
    exact = (g - g.mean(1, keepdims=True)
             - y * (g * y).mean(1, keepdims=True) * (1 + eps / std)) / denom
    assert np.abs(exact - caffe).max() > 1e-2


def test_without_variance_only_the_mean_is_removed():
    rng = np.random.default_rng(14)
    x, dy = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    t = leaf(x)
    top = mvn("normalize_variance: false", x.shape)(t)
    assert np.abs(top.detach().numpy() - (x - x.mean(axis=2, keepdims=True))).max() <= F64_TOL
    top.backward(torch.from_numpy(dy))
    assert np.abs(t.grad.numpy() - (dy - dy.mean(axis=2, keepdims=True))).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'm'.*1 to 4 axes"):
        mvn("", (1, 2, 3, 4, 5))
