"""EuclideanLoss against Caffe 1.0 (the zoo's loss heads, the CNN+D and SR-FCN training losses):
``sum((a - b)^2) / (2 N)`` with N = shape[0], gradients into both inputs."""
import numpy as np
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float32 net, values of order 1, 12 terms: float32 rounding only (2^-23 ~ 1.2e-7 relative).
F32_TOL = 1e-6


@pytest.mark.parametrize("fixture", ["layerzoo_a_struct", "layerzoo_a_conv",
                                     "cnnd_trainval_test", "pretrain_test"])
def test_euclidean_loss_matches_caffe(fixture):
    fwd, bwd = report(f"EuclideanLoss ({fixture})", check_layer_type(fixture, "EuclideanLoss"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_formula_item_shapes_and_gradients_into_both_inputs():
    rng = np.random.default_rng(25)
    a = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=(4, 1, 3)).astype(np.float32)  # same count per item is enough
    net = input_net({"a": (4, 3), "b": (4, 1, 3)}, 'layer { name: "loss" type: "EuclideanLoss" '
                    'bottom: "a" bottom: "b" top: "l" loss_weight: 2 }')
    out = net.forward(a=a, b=b)
    d = a - b.reshape(4, 3)
    assert out["l"].shape == ()
    assert abs(out["l"].detach().item() - (d ** 2).sum() / (2 * 4)) <= F32_TOL
    net.backward()
    # loss_weight 2 scales the gradient: 2 * (a - b) / N.
    assert np.abs(net.blobs["a"].diff.numpy() - 2 * d / 4).max() <= F32_TOL
    assert np.abs(net.blobs["b"].diff.numpy().reshape(4, 3) + 2 * d / 4).max() <= F32_TOL


def test_bad_parameters_name_the_layer():
    layer = make_layer('name: "el" type: "EuclideanLoss" bottom: "a" bottom: "b" top: "l"',
                       (4, 3), (4, 2))
    with pytest.raises(NetError, match=r"layer 'el'.*same count per item"):
        layer.top_shapes([(4, 3), (4, 2)])
    with pytest.raises(NetError, match=r"layer 'el' \(type EuclideanLoss\) takes exactly 2"):
        input_net({"a": (4, 3)}, 'layer { name: "el" type: "EuclideanLoss" bottom: "a" '
                  'top: "l" }')
