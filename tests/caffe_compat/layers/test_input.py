"""Input against Caffe 1.0 (the layer zoos feed every blob through one Input layer) and its
shape rules: one shape for every top or one per top; the batch size may change per forward."""
import numpy as np
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Input passes the fed arrays through: bit-identical.
EXACT = 0.0


@pytest.mark.parametrize("fixture", ["layerzoo_a_struct", "layerzoo_a_conv", "deploy_cnnd",
                                     "deploy_srcnn"])
def test_input_matches_caffe(fixture):
    fwd, bwd = report(f"Input ({fixture})", check_layer_type(fixture, "Input"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_one_shape_serves_every_top():
    layer = make_layer('name: "in" type: "Input" top: "a" top: "b" '
                       'input_param { shape { dim: 2 dim: 3 } }')
    assert layer.top_shapes([]) == [(2, 3), (2, 3)]


def test_fed_arrays_pass_through_with_their_own_batch_size():
    net = input_net({"a": (2, 3), "b": (2, 1)}, "", force_backward=False)
    a = np.arange(15, dtype=np.float32).reshape(5, 3)
    out = net.forward(a=a)
    assert net.blobs["a"].data.shape == (5, 3)
    assert np.abs(out["a"].numpy() - a).max() <= EXACT
    assert net.blobs["b"].data.shape == (2, 1)  # not fed: zeros of the declared shape


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'in'.*0, 1 or 3 shapes \(one per top\), got 2"):
        make_layer('name: "in" type: "Input" top: "a" top: "b" top: "c" '
                   'input_param { shape { dim: 1 } shape { dim: 2 } }')
