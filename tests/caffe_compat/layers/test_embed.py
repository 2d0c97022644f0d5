"""Embed against Caffe 1.0 (layerzoo_a_misc: with and without bias, repeated indices)."""
import numpy as np
import pytest
import torch

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Row copies plus one bias add, and sums of a few gradient rows: float32 rounding only.
TOL = 1e-6


def embed(extra="", shape=(2, 3)):
    return make_layer(f'name: "em" type: "Embed" embed_param {{ num_output: 2 input_dim: 4 '
                      f'{extra} }}', shape)


def test_embed_matches_caffe():
    assert report(check_layer_type("layerzoo_a_misc", "Embed")) <= min(FORWARD_TOL, BACKWARD_TOL)


def test_lookup_bias_and_gradient_accumulation():
    layer = embed(shape=(2, 3))
    assert [tuple(b.shape) for b in layer.blobs] == [(4, 2), (2,)]   # (input_dim, num_output)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(8.0).reshape(4, 2))
        layer.bias.copy_(torch.tensor([0.5, -1.0]))
    idx = tensor([[1, 3, 1], [0.9, 2, 1]], grad=True)   # 0.9 truncates to 0, as static_cast<int>
    y = layer(idx)
    assert y.shape == (2, 3, 2)
    w = np.arange(8.0).reshape(4, 2)
    ref = w[[[1, 3, 1], [0, 2, 1]]] + [0.5, -1.0]
    assert np.abs(y.detach().numpy() - ref).max() <= TOL
    y.backward(torch.ones_like(y))
    # row 1 is used three times: its gradient accumulates
    assert np.abs(layer.weight.grad.numpy() - [[1, 1], [3, 3], [1, 1], [1, 1]]).max() <= TOL
    assert np.abs(layer.bias.grad.numpy() - [6, 6]).max() <= TOL
    assert idx.grad is None                            # no gradient to the indices


def test_index_out_of_range_names_layer():
    with pytest.raises(NetError, match="layer 'em'.*range"):
        embed()(tensor([[0, 4, 1], [0, 0, 0]]))


@pytest.mark.parametrize("params", ["num_output: 0 input_dim: 4", "num_output: 3"])
def test_bad_sizes_name_layer(params):
    with pytest.raises(NetError, match="layer 'embed_bad'"):
        make_layer(f'name: "embed_bad" type: "Embed" embed_param {{ {params} }}', (2,))
