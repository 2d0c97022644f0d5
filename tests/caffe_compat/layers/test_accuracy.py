"""Accuracy against Caffe 1.0 (layerzoo_a_loss: top_k 2)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report, tensor
from tests.caffe_compat.reference import FORWARD_TOL, check_layer_type

# Ratios of small integers computed in float32: within one ulp.
TOL = 1e-7
X = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.9, 0.05, 0.05], [0.2, 0.2, 0.1]])


def accuracy(params="", tops=1, shape=(4, 3), label=(4,)):
    top = "".join(f' top: "t{i}"' for i in range(tops))
    return make_layer(f'name: "acc" type: "Accuracy"{top} accuracy_param {{ {params} }}',
                      shape, label)


def test_accuracy_matches_caffe():
    assert report(check_layer_type("layerzoo_a_loss", "Accuracy")) <= FORWARD_TOL


def test_ties_count_against_and_top_k():
    label = tensor([1, 0, 0, 1])
    # row 3: label 1 ties with class 0 (0.2): wrong at top 1, although it is a maximum
    assert abs(float(accuracy()(tensor(X), label)) - 2 / 4) <= TOL
    # top_k 2: row 3 has one other class >= its score -> right; row 1 has two -> still wrong
    assert abs(float(accuracy("top_k: 2")(tensor(X), label)) - 3 / 4) <= TOL


def test_ignore_label_and_per_class_top():
    acc, per_class = accuracy("ignore_label: 0", tops=2)(tensor(X), tensor([1, 0, 0, 1]))
    assert abs(float(acc) - 0.5) <= TOL                 # only rows 0 and 3 are counted
    assert np.abs(per_class.numpy() - [0.0, 0.5, 0.0]).max() <= TOL   # unseen classes -> 0
    assert float(accuracy("ignore_label: 0")(tensor(X), tensor([0, 0, 0, 0]))) == 0.0


def test_no_gradient():
    x = tensor(X, grad=True)
    assert not accuracy()(x, tensor([1, 0, 0, 1])).requires_grad


@pytest.mark.parametrize("params, label", [("top_k: 4", (4,)), ("", (4, 2)),
                                           ("top_k: 0", (4,))])
def test_bad_top_k_or_labels_names_layer(params, label):
    with pytest.raises(NetError, match="layer 'acc'"):
        accuracy(params, label=label)


def test_array_form_is_the_tensor_form_bit_for_bit():
    """The numpy form of a float32 CPU batch (accuracy.py's module doc) against the torch
    form: ties, ignored labels, top_k, a spatial axis; tolerance 0 (counts and one float32
    division, correctly rounded in both)."""
    import numpy as np
    import torch
    from caffe_compat.layers.accuracy import Accuracy
    from caffe_compat.proto import caffe_pb2
    rng = np.random.RandomState(5)
    for top_k, ignore, shape in ((1, None, (10, 3)), (2, 1, (7, 5)), (1, 0, (4, 3, 2, 2)),
                                 (3, None, (13, 6))):
        p = caffe_pb2.LayerParameter(name="acc", type="Accuracy", top=["a"])
        p.accuracy_param.top_k = top_k
        if ignore is not None:
            p.accuracy_param.ignore_label = ignore
        labels = (shape[0],) + tuple(shape[2:])
        layer = Accuracy(p, [shape, labels])
        for _ in range(20):
            x = torch.from_numpy(rng.randint(0, 3, shape).astype(np.float32))   # many ties
            y = torch.from_numpy(rng.randint(0, shape[1], labels).astype(np.float32) + 0.5)
            fast = layer.forward(x, y)
            slow = layer.forward(x.double(), y.double()).float()      # the torch form
            assert fast.dtype == torch.float32 and fast.shape == ()
            assert fast.numpy().tobytes() == slow.numpy().tobytes()
