"""The array engine's PReLU, Slice, BatchNorm, Scale, Bias and Eltwise against the torch
engine's layers: forward, the bottoms' diffs and the parameters' diffs for the same top diffs
(the conformance grid's nets with ``force_backward``), BatchNorm's training statistics and a
non-zero moving-average scale factor."""
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat.array_net import build_array_net
from caffe_compat.io.prototxt import parse_net
from caffe_compat.net.stepwise import Stepwise

from tests.caffe_compat.conformance.grid_affine import CASES

# float32 sums over at most a few hundred elements in another order than torch's: a few
# roundings of the partial sums, below 1e-5 of the values' scale
TOL = 1e-5


def _close(got, want, what):
    want = np.asarray(want, np.float64)
    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err <= TOL, (what, err)


def _pair(text, phase, tmp_path, seed=3):
    ref = caffe_compat.Net(parse_net(text), phase=phase, seed=seed)
    model = tmp_path / "m.caffemodel"
    ref.save(str(model))
    ours = build_array_net(parse_net(text), phase.upper())
    assert ours is not None, "the array engine refused the net"
    ours.copy_from(str(model))
    return ref, ours


def _run_both(text, phase, tmp_path, stats=None):
    ref, ours = _pair(text, phase, tmp_path)
    store = Stepwise(ref)
    if stats is not None:
        for arr, value in zip(ours.params["y"], stats):
            arr[...] = value
        layer = ref.layers[[key for node, key, _, _ in store.nodes if node.name == "y"][0]]
        with torch.no_grad():
            for blob, value in zip(layer.blobs, stats):
                blob.copy_(torch.from_numpy(value))
    rng = np.random.default_rng(5)
    for name in ours.inputs:
        value = rng.normal(0, 1, ours.data[name].shape).astype(np.float32)
        value.reshape(-1)[:3] = 0.0                    # x == 0: PReLU's slope branch
        ours.data[name][...] = value
        store.data[name][...] = torch.from_numpy(value)
    ours.forward()
    store.forward()
    tops = [t for t in ours.outputs]
    for t in tops:
        _close(ours.data[t], store.data[t].numpy(), f"top {t}")
        g = rng.normal(0, 1, ours.data[t].shape).astype(np.float32)
        ours.diff_of(t)[...] = g
        store.diff_of(t)[...] = torch.from_numpy(g)
    ours.backward()
    store.backward()
    for name in ours.inputs:
        _close(ours.diff_of(name), store.diff_of(name).numpy(), f"diff {name}")
    for i, (node, key, _, _) in enumerate(store.nodes):
        for k, blob in enumerate(ref.layers[key].blobs):
            if store.param_need[i][k] and blob.grad is not None:
                _close(ours.param_diff(node.name, k), blob.grad.numpy(),
                       f"param diff {node.name} {k}")
    return ref, ours, store


BACKWARD = sorted(c for c in CASES if "same bottom" not in c)


@pytest.mark.parametrize("case", BACKWARD)
def test_forward_and_backward_equal_the_torch_engine(case, tmp_path):
    _, text = CASES[case]
    _run_both(text + "force_backward: true\n", "test", tmp_path)


@pytest.mark.parametrize("factor", [1.0, 0.25, 0.0])
def test_batch_norm_global_statistics_scale_factor(factor, tmp_path):
    """``mean = blob0 / blob2``, ``var = blob1 / blob2``; a factor of 0 reads as 0."""
    text = CASES["batch_norm test phase"][1] + "force_backward: true\n"
    stats = [np.array([0.5, -1.0, 2.0], np.float32), np.array([4.0, 0.25, 1.0], np.float32),
             np.array([factor], np.float32)]
    _run_both(text, "test", tmp_path, stats)


def test_batch_norm_training_statistics(tmp_path):
    """TRAIN: the batch's statistics normalise, the moving averages update as Caffe's."""
    text = CASES["batch_norm test phase"][1] + "force_backward: true\n"
    stats = [np.array([0.5, -1.0, 2.0], np.float32), np.array([4.0, 0.25, 1.0], np.float32),
             np.array([2.0], np.float32)]
    ref, ours, store = _run_both(text, "train", tmp_path, stats)
    layer = ref.layers[[key for node, key, _, _ in store.nodes if node.name == "y"][0]]
    for arr, blob in zip(ours.params["y"], layer.blobs):
        _close(arr, blob.detach().numpy(), "statistics")
