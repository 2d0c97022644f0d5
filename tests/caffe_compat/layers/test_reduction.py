"""Reduction against Caffe 1.0 (layerzoo_a_struct: SUM axis 1, ASUM axis 2 coeff 0.5, SUMSQ
axis 0 = a 0-d blob, MEAN axis 3 coeff -2) and its shapes, operations and gradients."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64 sums of a few dozen values: only rounding separates us from NumPy's order of summation.
F64_TOL = 1e-12


def test_reduction_matches_caffe():
    fwd, bwd = report("Reduction", check_layer_type("layerzoo_a_struct", "Reduction"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


OPS = {
    "SUM": (lambda r: r.sum(-1), lambda r: np.ones_like(r)),
    "ASUM": (lambda r: np.abs(r).sum(-1), lambda r: np.sign(r)),
    "SUMSQ": (lambda r: (r * r).sum(-1), lambda r: 2 * r),
    "MEAN": (lambda r: r.mean(-1), lambda r: np.ones_like(r) / r.shape[-1]),
}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_operations_reduce_every_axis_from_axis_on(op, axis):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4))
    x[0, 0, 0] = 0.0  # ASUM's gradient at 0 is Caffe's sign(0) = 0
    layer = make_layer(f'name: "r" type: "Reduction" bottom: "x" top: "y" '
                       f'reduction_param {{ operation: {op} axis: {axis} coeff: 1.5 }}', x.shape)
    a = axis % 3
    assert layer.top_shapes([x.shape]) == [x.shape[:a]]  # axis 0: a 0-d blob
    t = leaf(x)
    top = layer(t)
    rows = x.reshape(x.shape[:a] + (-1,))
    value, grad = OPS[op]
    assert tuple(top.shape) == x.shape[:a]
    assert np.abs(top.detach().numpy() - 1.5 * value(rows)).max() <= F64_TOL
    top.backward(torch.ones_like(top))
    assert np.abs(t.grad.numpy() - 1.5 * grad(rows).reshape(x.shape)).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'red'.*axis 3 out of range"):
        make_layer('name: "red" type: "Reduction" bottom: "x" top: "y" '
                   'reduction_param { axis: 3 }', (2, 3, 4))
