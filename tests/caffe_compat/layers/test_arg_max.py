"""ArgMax against Caffe 1.0 (layerzoo_a_misc: plain; top_k 3 with values; axis 1 top_k 2;
axis 2 with values)."""
import numpy as np
import pytest
import torch

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import FORWARD_TOL, check_layer_type, run_fixture

# Indices and copied values: exact.
EXACT = 0.0


def argmax(params, shape):
    return make_layer(f'name: "am" type: "ArgMax" argmax_param {{ {params} }}', shape)


def test_argmax_matches_caffe():
    assert report(check_layer_type("layerzoo_a_misc", "ArgMax")) <= FORWARD_TOL
    run = run_fixture("layerzoo_a_misc")
    # the fixture's images hold one exact 1.0 per channel: three tied maxima per item, and
    # Caffe lists them by descending index (std::greater on (value, index) pairs)
    top3 = run.ref_blobs["argmax2"][:, 0, :, 0]
    assert np.all(np.diff(top3, axis=1) < 0)
    assert np.abs(run.blob("argmax2") - run.ref_blobs["argmax2"]).max() <= EXACT


def test_top_k_shapes():
    x = tensor(np.random.RandomState(1).rand(2, 3, 4, 5))
    assert argmax("top_k: 4", (2, 3, 4, 5))(x).shape == (2, 1, 4, 1)
    assert argmax("top_k: 4 out_max_val: true", (2, 3, 4, 5))(x).shape == (2, 2, 4, 1)
    assert argmax("top_k: 2 axis: 2", (2, 3, 4, 5))(x).shape == (2, 3, 2, 5)
    assert argmax("top_k: 2 axis: -1 out_max_val: true", (2, 3, 4, 5))(x).shape == (2, 3, 4, 2)
    x2 = tensor(np.random.RandomState(2).rand(3, 7))
    layer = argmax("top_k: 2 out_max_val: true", (3, 7))
    assert layer.top_shapes([(3, 7)]) == [(3, 2, 2)]      # padded to 3 axes
    out = layer(x2).numpy()
    order = np.argsort(-x2.numpy(), axis=1)[:, :2]
    assert np.abs(out[:, 0, :] - order).max() <= EXACT
    assert np.abs(out[:, 1, :] - np.take_along_axis(x2.numpy(), order, 1)).max() <= EXACT


def test_ties_larger_index_first_and_no_gradient():
    x = tensor([[1.0, 3.0, 3.0, 0.0, 3.0]], grad=True)
    out = argmax("top_k: 4", (1, 5))(x)
    assert np.abs(out.numpy().ravel() - [4, 2, 1, 0]).max() <= EXACT
    assert not out.requires_grad
    vals = argmax("axis: 1 top_k: 2 out_max_val: true", (1, 5))(x)
    assert torch.equal(vals, torch.tensor([[3.0, 3.0]])) and not vals.requires_grad


@pytest.mark.parametrize("params", ["top_k: 0", "top_k: 6", "axis: 1 top_k: 6", "axis: 3"])
def test_bad_top_k_or_axis_names_layer(params):
    with pytest.raises(NetError, match="'am'"):
        argmax(params, (1, 5))
