"""Eltwise against Caffe 1.0 (layerzoo_a_struct: SUM with coeffs, PROD of three, MAX) and its
backward rules: MAX's tie-breaking of Caffe's mask, PROD with and without stable_prod_grad."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64 unit checks: only rounding of a few products/quotients separates us from the reference.
F64_TOL = 1e-12
# MAX copies a value and routes a gradient: nothing is computed.
EXACT = 0.0


def test_eltwise_matches_caffe():
    fwd, bwd = report("Eltwise", check_layer_type("layerzoo_a_struct", "Eltwise"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def caffe_max_mask(bottoms):
    """Caffe's EltwiseLayer MAX loop: bottom 0 wins over 1 only if strictly greater; a later
    bottom must be strictly greater than the running maximum."""
    top = np.where(bottoms[0] > bottoms[1], bottoms[0], bottoms[1])
    mask = np.where(bottoms[0] > bottoms[1], 0, 1)
    for i, b in enumerate(bottoms[2:], start=2):
        mask = np.where(b > top, i, mask)
        top = np.where(b > top, b, top)
    return top, mask


def test_max_ties_follow_caffes_mask():
    # Columns: all tie; 0 wins; 0 and 1 tie above 2; 1 and 2 tie; 2 strictly largest.
    a = np.array([1.0, 5.0, 4.0, 0.0, 1.0])
    b = np.array([1.0, 2.0, 4.0, 3.0, 1.0])
    c = np.array([1.0, 5.0, 2.0, 3.0, 7.0])
    layer = make_layer('name: "m" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "t" '
                       'eltwise_param { operation: MAX }', a.shape, b.shape, c.shape)
    ts = [leaf(v) for v in (a, b, c)]
    top = layer(*ts)
    want, mask = caffe_max_mask([a, b, c])
    assert list(mask) == [1, 0, 1, 1, 2]  # ties between bottoms 0 and 1 go to bottom 1
    assert np.abs(top.detach().numpy() - want).max() <= EXACT
    g = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    top.backward(torch.from_numpy(g))
    for i, t in enumerate(ts):
        assert np.abs(t.grad.numpy() - np.where(mask == i, g, 0.0)).max() <= EXACT


def test_sum_coefficients_scale_values_and_gradients():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    layer = make_layer('name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "t" '
                       'eltwise_param { coeff: 0.5 coeff: -1.5 }', a.shape, b.shape)
    ta, tb = leaf(a), leaf(b)
    top = layer(ta, tb)
    assert np.abs(top.detach().numpy() - (0.5 * a - 1.5 * b)).max() <= F64_TOL
    top.sum().backward()
    assert np.abs(ta.grad.numpy() - 0.5).max() <= F64_TOL
    assert np.abs(tb.grad.numpy() + 1.5).max() <= F64_TOL


@pytest.mark.parametrize("stable", [True, False])
def test_prod_gradient_with_and_without_stable_prod_grad(stable):
    a = np.array([2.0, 0.0, -3.0])
    b = np.array([5.0, 4.0, 0.5])
    c = np.array([-1.0, 3.0, 2.0])
    layer = make_layer('name: "p" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "t" '
                       f'eltwise_param {{ operation: PROD stable_prod_grad: '
                       f'{"true" if stable else "false"} }}', a.shape, b.shape, c.shape)
    ts = [leaf(v) for v in (a, b, c)]
    top = layer(*ts)
    assert np.abs(top.detach().numpy() - a * b * c).max() <= F64_TOL
    top.backward(torch.ones(3, dtype=torch.float64))
    others = [b * c, a * c, a * b]
    for i, (t, want) in enumerate(zip(ts, others)):
        got = t.grad.numpy()
        if stable or i != 0:
            assert np.abs(got - want).max() <= F64_TOL
        else:
            # Caffe divides top by the bottom: 0 / 0 at the zero input of bottom 0.
            assert np.isnan(got[1]) and np.abs(got[[0, 2]] - want[[0, 2]]).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'e'.*one coeff per bottom blob \(2\), got 3"):
        make_layer('name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "t" '
                   'eltwise_param { coeff: 1 coeff: 2 coeff: 3 }', (2, 3), (2, 3))
    with pytest.raises(NetError, match=r"layer 'e'.*coeff applies to SUM only"):
        make_layer('name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "t" '
                   'eltwise_param { operation: PROD coeff: 1 coeff: 2 }', (2, 3), (2, 3))
    with pytest.raises(NetError, match=r"layer 'e'.*same shape"):
        make_layer('name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "t"', (2, 3), (3, 2))
