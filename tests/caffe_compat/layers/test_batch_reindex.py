"""BatchReindex against Caffe 1.0 (layerzoo_a_misc: indices with repeats)."""
import numpy as np
import pytest
import torch

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Gathered copies and sums of two or three gradient values: float32 rounding only.
TOL = 1e-6


def test_batch_reindex_matches_caffe():
    assert report(check_layer_type("layerzoo_a_misc", "BatchReindex")) <= min(FORWARD_TOL,
                                                                             BACKWARD_TOL)


def test_gather_and_accumulated_gradient():
    layer = make_layer('name: "r" type: "BatchReindex"', (3, 2), (5,))
    x = tensor(np.arange(6.0).reshape(3, 2), grad=True)
    idx = tensor([2, 0, 2, 2, 1], grad=True)
    y = layer(x, idx)
    assert y.shape == (5, 2) and layer.top_shapes([(3, 2), (5,)]) == [(5, 2)]
    assert np.abs(y.detach().numpy() - np.arange(6.0).reshape(3, 2)[[2, 0, 2, 2, 1]]).max() <= TOL
    y.backward(torch.ones_like(y))
    assert np.abs(x.grad.numpy() - [[1, 1], [1, 1], [3, 3]]).max() <= TOL
    assert idx.grad is None


def test_index_out_of_range_names_layer():
    layer = make_layer('name: "reindex_bad" type: "BatchReindex"', (3, 2), (2,))
    with pytest.raises(NetError, match="layer 'reindex_bad'"):
        layer(tensor(np.zeros((3, 2))), tensor([0, 3]))


def test_two_axis_indices_name_layer():
    with pytest.raises(NetError, match="layer 'reindex_2d'.*one axis"):
        make_layer('name: "reindex_2d" type: "BatchReindex"', (3, 2), (2, 1))
