"""PReLU against Caffe 1.0 (layerzoo_a_act: per channel and channel_shared)."""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type, run_fixture

# One float multiply per element (and sums of a few products): float32 rounding only.
TOL = 1e-6


def test_prelu_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "PReLU"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)
    run = run_fixture("layerzoo_a_act")
    # Caffe stores the shared slope as a 0-axis blob and the per-channel slopes as (C,).
    shared = run.net.params["prelu_shared"][0]
    assert tuple(shared.shape) == run.ref_params["prelu_shared/0"].shape == ()
    assert tuple(run.net.params["prelu"][0].shape) == run.ref_params["prelu/0"].shape == (3,)


def test_zero_counts_as_negative_in_backward():
    layer = make_layer('name: "p" type: "PReLU"', (1, 2, 3))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.25, -0.5]))
    x = tensor([[[-1.0, 0.0, 2.0], [0.0, -3.0, 4.0]]], grad=True)
    y = layer(x)
    y.backward(torch.ones_like(y))
    slopes = np.array([0.25, -0.5], np.float32)[None, :, None]
    xv = x.detach().numpy()
    ref = np.where(xv > 0, xv, slopes * xv)
    assert np.abs(y.detach().numpy() - ref).max() <= TOL
    # dx = 1 for x > 0, the slope for x <= 0 (x == 0 included)
    assert np.abs(x.grad.numpy() - np.where(xv > 0, 1.0, slopes)).max() <= TOL
    # slope gradient: sum of dy * x over x <= 0 in the channel
    assert np.abs(layer.weight.grad.numpy() - np.array([-1.0, -3.0])).max() <= TOL


def test_default_filler_is_quarter():
    net = Net("""
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 4 } } }
    layer { name: "p" type: "PReLU" bottom: "x" top: "y" prelu_param { channel_shared: true } }
    """)
    assert float(net.params["p"][0].detach()) == 0.25   # constant filler value, exact


def test_one_axis_bottom_names_layer():
    with pytest.raises(NetError, match="layer 'prelu_1d'"):
        make_layer('name: "prelu_1d" type: "PReLU"', (5,))
