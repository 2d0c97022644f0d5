"""InfogainLoss against Caffe 1.0: H from a .binaryproto file (two tops, loss_weight 1.5,
ignore_label, VALID normalization, logits of +-70 so that the 1e-20 clamp is active) and H as a
third bottom (axis -1, FULL / BATCH_SIZE / NONE, a label 3.7 truncated to 3)."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.layers.new_layer_cases import FIXTURES, CaseRun, report, working_dir
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

LAYER = ('name: "ig" type: "InfogainLoss" bottom: "x" bottom: "l" %s top: "loss" %s')
# float64 evaluation of the same formula: rounding only.
F64_TOL = 1e-12


@pytest.mark.parametrize("case", ["infogain_file", "infogain_bottom_full",
                                  "infogain_bottom_batch", "infogain_bottom_none"])
def test_infogain_loss_matches_caffe(case):
    fwd, bwd = report(f"InfogainLoss ({case})", CaseRun(case).compare())
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_identity_h_is_softmax_with_loss():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    lab = torch.tensor([0.0, 2.0, 1.0, 2.0], dtype=torch.float64)
    layer = make_layer(LAYER % ('bottom: "H"', ""), (4, 3), (4,), (3, 3))
    loss = layer(x, lab, torch.eye(3, dtype=torch.float64))
    loss.backward()
    ref = x.detach().clone().requires_grad_()
    want = torch.nn.functional.cross_entropy(ref, lab.long())
    want.backward()
    assert abs(loss.item() - want.item()) <= F64_TOL
    assert (x.grad - ref.grad).abs().max().item() <= F64_TOL


def test_h_file_rules(tmp_path):
    with working_dir(FIXTURES):
        layer = make_layer(LAYER % ("", 'infogain_loss_param { source: '
                                        '"infogain_H.binaryproto" }'), (2, 4), (2,))
        assert tuple(layer.matrix.shape) == (1, 1, 4, 4)
        with pytest.raises(NetError, match=r"layer 'ig'.*has 16 values; 3 classes need 3 x 3"):
            make_layer(LAYER % ("", 'infogain_loss_param { source: "infogain_H.binaryproto" }'),
                       (2, 3), (2,))
    with pytest.raises(NetError, match=r"layer 'ig'.*H must be given"):
        make_layer(LAYER % ("", ""), (2, 4), (2,))
    with pytest.raises(NetError, match=r"layer 'ig'.*cannot read the infogain matrix.*missing"):
        make_layer(LAYER % ("", f'infogain_loss_param {{ source: "{tmp_path}/missing" }}'),
                   (2, 4), (2,))


def test_refusals_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'ig'.*normalize is deprecated"):
        make_layer(LAYER % ('bottom: "H"', "loss_param { normalize: true }"), (2, 3), (2,),
                   (3, 3))
    layer = make_layer(LAYER % ('bottom: "H"', ""), (2, 3), (2,), (3, 3))
    with pytest.raises(NetError, match=r"layer 'ig'.*label values must lie in \[0, 3\)"):
        layer(torch.zeros(2, 3), torch.tensor([0.0, 3.0]), torch.eye(3))
    with pytest.raises(NetError, match=r"layer 'ig'.*label count \(4"):
        make_layer(LAYER % ('bottom: "H"', ""), (2, 3, 3), (2, 2), (3, 3))


def test_fixture_exercises_the_clamp_where_caffes_backward_is_not_autograds():
    # At item 0, position (0, 0) the logits are +-70: p < 1e-20 is clamped, and the gradient of
    # the clamped loss (autograd) differs there from Caffe's p * sum(H[l]) - H[l] that we match.
    run = CaseRun("infogain_file")
    xs = torch.tensor(run.blobs[0]["xs"], dtype=torch.float64, requires_grad=True)
    label = run.ref["s0/in/label"].reshape(3, 2, 3).astype(np.int64)
    with working_dir(FIXTURES):
        H = make_layer(LAYER % ("", 'infogain_loss_param { source: "infogain_H.binaryproto" }'),
                       (3, 4, 2, 3), (3, 1, 2, 3)).matrix.reshape(4, 4).double()
    valid = torch.tensor(label != 2, dtype=torch.float64)
    logs = torch.log(torch.softmax(xs, 1).clamp_min(1e-20))
    rows = H[torch.tensor(np.where(label == 2, 0, label))].permute(0, 3, 1, 2)
    loss = -(rows * logs * valid.unsqueeze(1)).sum() / valid.sum() * 1.5
    loss.backward()
    caffe = run.ref["bwd/diff/xs"]
    autograd = xs.grad.numpy()
    assert np.abs(autograd[0, :, 0, 0] - caffe[0, :, 0, 0]).max() > 0.1 * np.abs(caffe).max()
    assert np.abs(run.diff("xs") - caffe).max() <= BACKWARD_TOL * np.abs(caffe).max()
