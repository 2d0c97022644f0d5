"""Flatten against Caffe 1.0 (layerzoo_a_struct: default, and axis 2..3) and its axis rules."""
import numpy as np
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Flatten only changes the shape: values must be bit-identical.
EXACT = 0.0


def test_flatten_matches_caffe():
    fwd, bwd = report("Flatten", check_layer_type("layerzoo_a_struct", "Flatten"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("spec, want", [
    ("", (2, 60)),
    ("axis: 2 end_axis: 3", (2, 3, 20)),
    ("axis: -3 end_axis: -2", (2, 12, 5)),
    ("axis: 0", (120,)),
    # end_axis == axis - 1 flattens nothing and inserts an axis of size 1 (Caffe's count(a, a)).
    ("axis: 2 end_axis: 1", (2, 3, 1, 4, 5)),
])
def test_axis_and_end_axis(spec, want):
    x = np.arange(120, dtype=np.float64).reshape(2, 3, 4, 5)
    layer = make_layer(f'name: "f" type: "Flatten" bottom: "x" top: "y" '
                       f'flatten_param {{ {spec} }}', x.shape)
    assert layer.top_shapes([x.shape]) == [want]
    top = layer(leaf(x)).detach().numpy()
    assert top.shape == want and np.abs(top.ravel() - x.ravel()).max() <= EXACT


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'fl'.*end_axis.*must not come before"):
        make_layer('name: "fl" type: "Flatten" bottom: "x" top: "y" '
                   'flatten_param { axis: 3 end_axis: 1 }', (2, 3, 4, 5))
    with pytest.raises(NetError, match=r"layer 'fl'.*in-place"):
        make_layer('name: "fl" type: "Flatten" bottom: "x" top: "x"', (2, 3))
    with pytest.raises(NetError, match=r"layer 'fl'.*out of range"):
        make_layer('name: "fl" type: "Flatten" bottom: "x" top: "y" '
                   'flatten_param { axis: 4 }', (2, 3, 4, 5))
