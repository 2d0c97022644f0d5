"""SoftmaxWithLoss against Caffe 1.0 (layerzoo_a_loss: ignore_label 1, VALID)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Softmax, log and a sum of a few terms in float32 vs a float64 reference.
TOL = 2e-6
X = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-2.0, 1.0, 4.0], [1.0, 1.0, 1.0]])
LABEL = np.array([0, 2, 1, 2], np.float32)


def softmax_loss(loss_param="", shape=(4, 3), label_shape=(4,), extra="", tops=1):
    top = "".join(f' top: "t{i}"' for i in range(tops))
    return make_layer(f'name: "swl" type: "SoftmaxWithLoss"{top} loss_param {{ {loss_param} }} '
                      f'{extra}', shape, label_shape)


def reference(x, label, ignore=None):
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    valid = np.ones(len(label), bool) if ignore is None else label != ignore
    lab = np.where(valid, label, 0).astype(int)
    nll = -np.log(p[np.arange(len(lab)), lab]) * valid
    grad = (p - np.eye(x.shape[1])[lab]) * valid[:, None]
    return nll.sum(), grad, valid.sum(), p


def test_softmax_with_loss_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_loss", "SoftmaxWithLoss"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


@pytest.mark.parametrize("mode, divisor", [("normalization: VALID", 3), ("", 3),
                                           ("normalization: FULL", 4),
                                           ("normalization: BATCH_SIZE", 4),
                                           ("normalization: NONE", 1),
                                           ("normalize: false", 4), ("normalize: true", 3)])
def test_ignore_label_and_normalization(mode, divisor):
    layer = softmax_loss(f"ignore_label: 1 {mode}")
    x = tensor(X, grad=True)
    loss = layer(x, tensor(LABEL))
    loss.backward()
    nll, grad, _, _ = reference(X, LABEL, ignore=1)
    assert abs(loss.item() - nll / divisor) <= TOL
    assert np.abs(x.grad.numpy() - grad / divisor).max() <= TOL
    assert np.abs(x.grad.numpy()[2]).max() == 0.0       # the ignored row gets no gradient


def test_all_ignored_gives_zero_not_nan():
    loss = softmax_loss("ignore_label: 2")(tensor(X), tensor([2, 2, 2, 2]))
    assert loss.item() == 0.0                           # normalizer max(1, 0) = 1


def test_second_top_is_probabilities_without_gradient():
    layer = softmax_loss(tops=2)
    x = tensor(X, grad=True)
    loss, prob = layer(x, tensor(LABEL))
    assert np.abs(prob.detach().numpy() - reference(X, LABEL)[3]).max() <= TOL
    assert not prob.requires_grad                       # Caffe ignores a diff arriving there


def test_flt_min_clamp_keeps_caffe_gradient():
    x = tensor([[0.0, 200.0]], grad=True)               # p[label 0] underflows to 0
    loss = softmax_loss(shape=(1, 2), label_shape=(1,))(x, tensor([0]))
    loss.backward()
    assert abs(loss.item() + np.log(np.finfo(np.float32).tiny)) <= TOL * 100   # -log(FLT_MIN)
    assert np.abs(x.grad.numpy() - [[-1.0, 1.0]]).max() <= TOL   # p - onehot, not 0


def test_spatial_axis_labels():
    rs = np.random.RandomState(3)
    x = rs.randn(2, 3, 2, 2)
    label = rs.randint(0, 3, (2, 1, 2, 2)).astype(np.float32)
    loss = softmax_loss(shape=(2, 3, 2, 2), label_shape=(2, 1, 2, 2))(tensor(x), tensor(label))
    xf = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    nll, _, n, _ = reference(xf, label.reshape(-1))
    assert abs(loss.item() - nll / n) <= TOL


def test_label_count_mismatch_names_layer():
    with pytest.raises(NetError, match="layer 'swl'.*label count"):
        softmax_loss(shape=(4, 3), label_shape=(4, 2))


def test_label_out_of_range_names_layer():
    with pytest.raises(NetError, match="layer 'swl'.*label values"):
        softmax_loss()(tensor(X), tensor([0, 3, 1, 1]))


@pytest.mark.parametrize("labels, named", [([0, 3, 1, 1], r"\[3\]"), ([0, -1, 1, 2], r"\[-1\]"),
                                           ([5, 1, -2, 0], r"\[-2, 5\]")])
def test_label_out_of_range_in_either_pass_names_the_values(labels, named):
    # the range is checked where the gather reading p[label] refuses an index (the CPU), so
    # the autograd forward and the explicit training pass report it alike
    layer = softmax_loss()
    with pytest.raises(NetError, match=r"layer 'swl'.*label values.*" + named):
        layer(tensor(X), tensor(labels))
    with pytest.raises(NetError, match=r"layer 'swl'.*label values.*" + named):
        layer.explicit_forward(tensor(X), tensor(labels))
