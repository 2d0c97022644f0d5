"""The array layers a solver trains with: Accuracy, EuclideanLoss, SoftmaxWithLoss's row form
and HDF5Data, against the torch engine's layers on the same net and data."""
import h5py
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat.array_net import build_array_net
from caffe_compat.io.prototxt import parse_net
from caffe_compat.net.stepwise import Stepwise

NET = """name: "t"
layer {{ name: "in" type: "Input" top: "x" top: "label"
  input_param {{ shape {{ dim: 6 dim: {c} }} shape {{ dim: 6 }} }} }}
{body}"""


def _both(body, c, x, label):
    text = NET.format(c=c, body=body)
    ours = build_array_net(parse_net(text), "TEST")
    assert ours is not None
    ours.data["x"][...] = x
    ours.data["label"][...] = label
    theirs = caffe_compat.Net(parse_net(text), phase="test")
    return ours, theirs, theirs.forward(x=x, label=label)


def _inputs(c, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(6, c).astype(np.float32)
    x[0, :2] = x[0, 0]                       # a tie: counts against the true class
    return x, rng.randint(0, c, 6).astype(np.float32)


@pytest.mark.parametrize("top_k", [1, 2])
def test_accuracy_same_bits(top_k):
    """Comparisons and counts, then one float32 division: the same bits (tolerance 0)."""
    x, label = _inputs(5)
    body = (f'layer {{ name: "a" type: "Accuracy" bottom: "x" bottom: "label" top: "a" '
            f'accuracy_param {{ top_k: {top_k} }} }}')
    ours, _, out = _both(body, 5, x, label)
    ours.forward()
    assert ours.data["a"].tobytes() == out["a"].detach().numpy().tobytes()


def test_softmax_loss_rows_match_the_general_form():
    """The row form (one score per class and item, no ignore_label) takes the general form's
    operations: the same loss and diffs (tolerance 0)."""
    x, label = _inputs(3)
    rows = 'layer { name: "l" type: "SoftmaxWithLoss" bottom: "x" bottom: "label" top: "l" }'
    general = rows[:-2] + ' loss_param { ignore_label: 99 } }'
    values = []
    for body in (rows, general):
        net = build_array_net(parse_net(NET.format(c=3, body=body)), "TEST")
        net.data["x"][...] = x
        net.data["label"][...] = label
        net.forward()
        net.backward()
        values.append((net.data["l"].copy(), net.diff_of("x").copy()))
    assert values[0][0].tobytes() == values[1][0].tobytes()
    assert values[0][1].tobytes() == values[1][1].tobytes()


def test_euclidean_loss_against_the_torch_engine():
    """Loss and both bottom diffs within 1e-6 of the torch engine's (float32 sums of squares
    in another order)."""
    rng = np.random.RandomState(2)
    a, b = rng.randn(6, 4).astype(np.float32), rng.randn(6, 4).astype(np.float32)
    text = """name: "e"
    layer { name: "in" type: "Input" top: "a" top: "b"
      input_param { shape { dim: 6 dim: 4 } shape { dim: 6 dim: 4 } } }
    layer { name: "l" type: "EuclideanLoss" bottom: "a" bottom: "b" top: "l"
      loss_weight: 0.5 }
    force_backward: true"""
    ours = build_array_net(parse_net(text), "TEST")
    ours.data["a"][...], ours.data["b"][...] = a, b
    ours.forward()
    ours.backward()
    store = Stepwise(caffe_compat.Net(parse_net(text), phase="test"))
    store.data["a"][...] = torch.from_numpy(a)
    store.data["b"][...] = torch.from_numpy(b)
    store.forward()
    store.backward()
    np.testing.assert_allclose(ours.data["l"], store.data["l"].numpy(), rtol=1e-6)
    for name in ("a", "b"):
        np.testing.assert_allclose(ours.diff_of(name), store.diff[name].numpy(), rtol=1e-6,
                                   atol=1e-7)


def test_hdf5_data_serves_file_order_and_wraps(tmp_path):
    """Batches in file order, wrapping to the first row (Caffe's HDF5DataLayer without
    shuffle); a net with it is built only where data layers are allowed."""
    rows = np.arange(5 * 2, dtype=np.float32).reshape(5, 2)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["data"] = rows
    (tmp_path / "list.txt").write_text(str(tmp_path / "d.h5") + "\n")
    text = (f'name: "h" layer {{ name: "d" type: "HDF5Data" top: "data" '
            f'hdf5_data_param {{ source: "{tmp_path / "list.txt"}" batch_size: 3 }} }}')
    assert build_array_net(parse_net(text), "TRAIN") is None
    net = build_array_net(parse_net(text), "TRAIN", allow_data=True)
    net.forward()
    np.testing.assert_array_equal(net.data["data"], rows[:3])
    net.forward()
    np.testing.assert_array_equal(net.data["data"], rows[[3, 4, 0]])
    net.close()
    shuffled = text.replace("batch_size: 3", "batch_size: 3 shuffle: true")
    assert build_array_net(parse_net(shuffled), "TRAIN", allow_data=True) is None
