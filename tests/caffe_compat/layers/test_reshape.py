"""Reshape against Caffe 1.0 (layerzoo_a_struct: ``0, -1, 14``; ``axis 2 num_axes 2``; a 0-d
blob to (1,)) and its rules for 0 (copy), -1 (infer), axis and num_axes."""
import numpy as np
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Reshape only changes the shape: values must be bit-identical.
EXACT = 0.0


def test_reshape_matches_caffe():
    fwd, bwd = report("Reshape", check_layer_type("layerzoo_a_struct", "Reshape"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("spec, bottom, want", [
    ("shape { dim: 0 dim: -1 dim: 14 }", (4, 5, 6, 7), (4, 15, 14)),
    ("shape { dim: 0 dim: 0 dim: -1 }", (4, 5, 6, 7), (4, 5, 42)),
    ("shape { dim: -1 } axis: 1", (4, 5, 6, 7), (4, 210)),
    ("shape { dim: 42 } axis: 2 num_axes: 2", (4, 3, 6, 7), (4, 3, 42)),
    # num_axes 0 inserts the new axes; axis -1 means "after the last axis".
    ("shape { dim: 1 } axis: 1 num_axes: 0", (4, 3), (4, 1, 3)),
    ("shape { dim: 1 dim: 1 } axis: -1", (4, 3), (4, 3, 1, 1)),
    # A 0 copies the bottom dimension at axis + i, not at i.
    ("shape { dim: 0 dim: -1 } axis: 1", (2, 3, 4, 5), (2, 3, 20)),
    ("shape { dim: 1 }", (), (1,)),
    ("shape { }", (1,), ()),
])
def test_copy_infer_axis_and_num_axes(spec, bottom, want):
    x = np.arange(int(np.prod(bottom)), dtype=np.float64).reshape(bottom)
    layer = make_layer(f'name: "r" type: "Reshape" bottom: "x" top: "y" '
                       f'reshape_param {{ {spec} }}', bottom)
    assert layer.top_shapes([bottom]) == [want]
    top = layer(leaf(x)).detach().numpy()
    assert top.shape == want and np.abs(top.ravel() - x.ravel()).max() <= EXACT


def test_shape_follows_the_bottom_at_forward_time():
    layer = make_layer('name: "r" type: "Reshape" bottom: "x" top: "y" '
                       'reshape_param { shape { dim: 0 dim: -1 } }', (4, 3, 2))
    assert tuple(layer(leaf(np.zeros((7, 3, 2)))).shape) == (7, 6)


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 're'.*at most one -1"):
        make_layer('name: "re" type: "Reshape" bottom: "x" top: "y" '
                   'reshape_param { shape { dim: -1 dim: -1 } }', (4, 6))
    with pytest.raises(NetError, match=r"layer 're'.*not divisible by the product 5"):
        make_layer('name: "re" type: "Reshape" bottom: "x" top: "y" '
                   'reshape_param { shape { dim: 5 dim: -1 } }', (4, 6))
    with pytest.raises(NetError, match=r"layer 're'.*has a 0 at position 2.*no axis 2"):
        make_layer('name: "re" type: "Reshape" bottom: "x" top: "y" '
                   'reshape_param { shape { dim: 1 dim: 1 dim: 0 dim: -1 } }', (4, 6))
    with pytest.raises(NetError, match=r"layer 're'.*has 20 elements.*24"):
        make_layer('name: "re" type: "Reshape" bottom: "x" top: "y" '
                   'reshape_param { shape { dim: 4 dim: 5 } }', (4, 6))
    with pytest.raises(NetError, match=r"layer 're'.*dimensions must be >= -1"):
        make_layer('name: "re" type: "Reshape" bottom: "x" top: "y" '
                   'reshape_param { shape { dim: -2 } }', (4, 6))
