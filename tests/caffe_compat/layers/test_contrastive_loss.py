"""ContrastiveLoss against Caffe 1.0 (margin 1.3, loss_weight 0.7, labels 0.7 and 1.9 truncated,
-1 similar, a dissimilar pair at distance 0; N x C and N x C x 1 x 1 inputs; the default and
the legacy forms) and Caffe's backward, which adds 1e-4 to the distance."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

LAYER = ('name: "cl" type: "ContrastiveLoss" bottom: "a" bottom: "b" bottom: "y" top: "l" '
         'contrastive_loss_param { margin: 2 %s }')
# float64 evaluation of the same formula: rounding only.
F64_TOL = 1e-12


@pytest.mark.parametrize("case", ["contrastive", "contrastive_legacy"])
def test_contrastive_loss_matches_caffe(case):
    run = CaseRun(case)
    fwd, bwd = report(f"ContrastiveLoss ({case})", run.compare())
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL
    assert not run.diff("sim").any()      # no gradient to the similarity label


def test_formula_and_caffes_backward():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], dtype=torch.float64,
                     requires_grad=True)
    b = torch.tensor([[3.0, 4.0], [1.0, 0.5], [0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    layer = make_layer(LAYER % "", (3, 2), (3, 2), (3,))
    loss = layer(a, b, y)
    # similar: d^2 = 25; dissimilar d = 0.5 -> (2 - 0.5)^2; d = 0 -> 2^2; / (2 N)
    assert abs(loss.item() - (25 + 2.25 + 4) / 6) <= F64_TOL
    loss.backward()
    # the d = 0 pair: Caffe's -(m - d) / (d + 1e-4) * (a - b) / N is 0 because a - b = 0
    assert torch.equal(a.grad[2], torch.zeros(2, dtype=torch.float64))
    want = -(2 - 0.5) / (0.5 + 1e-4) * (a[1] - b[1]).detach() / 3
    assert (a.grad[1] - want).abs().max().item() <= F64_TOL
    legacy = make_layer(LAYER % "legacy_version: true", (3, 2), (3, 2), (3,))
    assert abs(legacy(a, b, y).item() - (25 + (2 - 0.25) + 2) / 6) <= F64_TOL


def test_bad_shapes_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'cl'.*same number of channels"):
        make_layer(LAYER % "", (3, 2), (3, 4), (3,))
    with pytest.raises(NetError, match=r"layer 'cl'.*must be N x C \(x 1 x 1\)"):
        make_layer(LAYER % "", (3, 2, 2), (3, 2, 2), (3,))
    with pytest.raises(NetError, match=r"layer 'cl'.*similarity label must be N x 1"):
        make_layer(LAYER % "", (3, 2), (3, 2), (3, 2))
    with pytest.raises(NetError, match=r"layer 'cl'.*same number of pairs"):
        make_layer(LAYER % "", (3, 2), (4, 2), (3,))
