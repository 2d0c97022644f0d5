"""Permute against OpenCV 4 dnn (committed fixture: four orders of a 4-D blob, batch axis moved,
identity, a 3-D blob), SSD's completion of a partial order, and errors."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# A permutation copies values: exact.
EXACT = 0.0


def test_permute_matches_opencv():
    worst = compare.report("Permute vs OpenCV 4", compare.check_case(
        "Permute", cases.permute_case()))
    assert worst <= EXACT


def test_partial_order_is_completed_as_ssd_does():
    layer = make_layer('name: "p" type: "Permute" bottom: "x" top: "y" '
                       'permute_param { order: 2 }', (2, 3, 4, 5))
    x = leaf(np.arange(120.0).reshape(2, 3, 4, 5))
    y = layer(x)
    assert tuple(y.shape) == (4, 2, 3, 5)
    assert torch.equal(y, x.permute(2, 0, 1, 3))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


@pytest.mark.parametrize("order, message", [("order: 4", "out of range"),
                                            ("order: 1 order: 1", "repeats an axis")])
def test_bad_orders(order, message):
    with pytest.raises(NetError, match=f"layer 'p'.*{message}"):
        make_layer(f'name: "p" type: "Permute" bottom: "x" top: "y" '
                   f'permute_param {{ {order} }}', (2, 3, 4, 5))
