"""Filter against Caffe 1.0 (two filtered bottoms, selector values 0, 1, 0.5, -2) and its rules:
items kept in order, gradients only to kept items, none to the selector."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

# Filter copies values: bit-identical.
EXACT = 0.0
LAYER = 'name: "f" type: "Filter" bottom: "a" bottom: "s" top: "fa"'


def test_filter_matches_caffe():
    run = CaseRun("filter")
    fwd, bwd = report("Filter", run.compare())
    assert fwd <= EXACT and bwd <= BACKWARD_TOL
    assert run.blobs[0]["fa"].shape == (4, 3, 2)


def test_nan_selects_and_nothing_selected_gives_empty_tops():
    layer = make_layer(LAYER, (4, 2), (4,))
    a = leaf(np.arange(8.0).reshape(4, 2))
    top = layer(a, torch.tensor([0.0, float("nan"), 0.0, 3.0], dtype=torch.float64))
    assert np.abs(top.detach().numpy() - [[2, 3], [6, 7]]).max() <= EXACT
    top.backward(torch.ones_like(top))
    assert np.abs(a.grad.numpy() - [[0, 0], [1, 1], [0, 0], [1, 1]]).max() <= EXACT
    empty = layer(a, torch.zeros(4, dtype=torch.float64))
    assert tuple(empty.shape) == (0, 2)
    assert layer.top_shapes([(4, 2), (4,)]) == [(4, 2)]     # set-up: all N items, as Caffe


def test_bad_shapes_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'f'.*selector.*\(N, 1, \.\.\.\), got \(4, 2\)"):
        make_layer(LAYER, (4, 2), (4, 2))
    with pytest.raises(NetError, match=r"layer 'f'.*bottom 0 has shape \(3, 2\)"):
        make_layer(LAYER, (3, 2), (4, 1))
    with pytest.raises(NetError, match=r"layer 'f'.*one top per filtered bottom \(1"):
        make_layer(LAYER + ' top: "x"', (4, 2), (4,))
