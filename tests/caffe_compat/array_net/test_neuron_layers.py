"""The array engine's element-wise and shape layers (Sigmoid ... Clip, ReLU6, Reshape, Crop,
Permute, Tile, Reduction, MVN, ShuffleChannel) against the torch engine's: forward and the
input's diff for the same top diffs, on the conformance grid's nets (grid_neuron.py) with
``force_backward``; in-place forms whose backward would read the overwritten bottom, and
Threshold and ArgMax (no backward in Caffe), and Interp and Axpy (forward only here: their
backward is the torch engine's), decline the backward."""
import numpy as np
import pytest

import caffe_compat
from caffe_compat.array_net import build_array_net
from caffe_compat.io.prototxt import parse_net
from caffe_compat.net.stepwise import Stepwise

from tests.caffe_compat.conformance.grid import CASES as GRID
from tests.caffe_compat.conformance.grid_neuron import CASES

# float32 element-wise functions (libm's against torch's vectorised ones, a few ulp) and sums
# of at most 120 values in another order: below 1e-5 of the values' scale
TOL = 1e-5


def _close(got, want, what):
    want = np.asarray(want, np.float64)
    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err <= TOL, (what, err)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_backward_equal_the_torch_engine(case, tmp_path):
    _compare(case, CASES[case][1], tmp_path)


DECONV = sorted(c for c, (t, _) in GRID.items() if t == "Deconvolution" and c not in CASES)


@pytest.mark.parametrize("case", DECONV)
def test_deconvolution_equals_the_torch_engine(case, tmp_path):
    """Deconvolution (the transpose of the convolution kernels): top, bottom and weight
    diffs."""
    _compare(case, GRID[case][1], tmp_path)


AVE = sorted(c for c, (t, text) in GRID.items() if t == "Pooling" and "AVE" in text
             and "mask" not in c)


@pytest.mark.parametrize("case", AVE)
def test_average_pooling_backward_equals_the_torch_engine(case, tmp_path):
    """AVE pooling's backward (deploy nets end in one, GoogLeNet's): each window's share."""
    _compare(case, GRID[case][1], tmp_path)


def _compare(case, text, tmp_path):
    text += "force_backward: true\n"
    ref = caffe_compat.Net(parse_net(text), phase="test", seed=3)
    model = tmp_path / "m.caffemodel"
    ref.save(str(model))
    ours = build_array_net(parse_net(text), "TEST")
    assert ours is not None, "the array engine refused the net"
    ours.copy_from(str(model))
    store = Stepwise(ref)
    rng = np.random.default_rng(5)
    for name in ours.inputs:
        value = rng.normal(0, 1, ours.data[name].shape).astype(np.float32)
        value.reshape(-1)[:2] = (0.0, 0.5)         # the points of Caffe's special branches
        ours.data[name][...] = value
        store.data[name][...] = store.data[name].new_tensor(value)
    ours.forward()
    store.forward()
    for t in ours.outputs:
        _close(ours.data[t], store.data[t].numpy(), f"top {t}")
    last = len(ours.nodes) - 1
    if not ours.can_backward(last, 0):
        assert "in place" in case or any(t in case for t in ("threshold", "argmax", "interp",
                                                              "axpy")), "backward declined"
        return
    for t in ours.outputs:
        g = rng.normal(0, 1, ours.data[t].shape).astype(np.float32)
        ours.diff_of(t)[...] = g
        store.diff_of(t)[...] = store.diff_of(t).new_tensor(g)
    ours.backward()
    store.backward()
    for name in ours.inputs:
        if name == "ref":
            continue                    # Crop's reference bottom: no diff in Caffe
        _close(ours.diff_of(name), store.diff_of(name).numpy(), f"diff {name}")
    for i, (node, key, _, _) in enumerate(store.nodes):
        for k, blob in enumerate(ref.layers[key].blobs):
            if store.param_need[i][k] and blob.grad is not None:
                _close(ours.param_diff(node.name, k), blob.grad.numpy(),
                       f"param diff {node.name} {k}")
