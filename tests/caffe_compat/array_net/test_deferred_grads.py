"""Weight gradients left by a backward for when the diff is asked for
(caffe_compat.array_net.deferred_grads): the diffs a program or solver reads are, bit for bit,
those of computing every gradient at once (tolerance 0: the same kernel on the same bottom data
and top diffs, added in the same order)."""
import numpy as np
import pytest

from caffe_compat.array_net import build_array_net, deferred_grads
from caffe_compat.io.prototxt import parse_net
from caffe_compat.kernels import caffe_products

from .test_array_net import BACK, _feed, _random_params

pytestmark = pytest.mark.skipif(not caffe_products.available(),
                                reason="the compiled kernel is not built")

CONVS = ("c1", "c2", "c3")


def _net():
    arrays = build_array_net(parse_net(BACK), "TEST")
    _random_params(arrays, seed=4)
    return arrays


def _backwards(arrays, count, seed=7, between=None):
    """``count`` forward + backward passes with new inputs and top diffs each."""
    rng = np.random.default_rng(seed)
    for n in range(count):
        for name, value in _feed(arrays, seed=seed + n).items():
            arrays.data[name][...] = value
        arrays.forward()
        top = arrays.nodes[-1].tops[0]
        arrays.diff_of(top)[...] = rng.normal(size=arrays.data[top].shape)
        arrays.backward()
        if between is not None:
            between(n)


def _eager(count, **kw):
    """The diffs with every gradient computed at once: the diffs held outside the net."""
    arrays = _net()
    held = [arrays.param_diff(c, 0) for c in CONVS]
    _backwards(arrays, count, **kw)
    assert not arrays.deferred.kept
    return {c: d.copy() for c, d in zip(CONVS, held)}, arrays


def test_a_diff_nobody_holds_is_settled_when_asked_for_with_the_same_bits():
    want, _ = _eager(3)
    arrays = _net()
    _backwards(arrays, 3)
    assert sorted(arrays.nodes[i].name for i in arrays.deferred.kept) == list(CONVS)
    for c in CONVS:
        np.testing.assert_array_equal(arrays.param_diff(c, 0), want[c])
    assert not arrays.deferred.kept and not arrays.deferred.active   # a reader: no more
    _backwards(arrays, 1, seed=20)
    assert not arrays.deferred.kept


def test_a_held_diff_shows_every_backward_at_once():
    """An array (or a view of it) kept by the program is never behind: the backward computes
    the gradient into it."""
    arrays = _net()
    view = arrays.param_diff("c2", 0)[:1]
    _backwards(arrays, 2)
    assert arrays.index["c2"] not in arrays.deferred.kept
    assert arrays.index["c1"] in arrays.deferred.kept
    want, _ = _eager(2)
    np.testing.assert_array_equal(view, want["c2"][:1])


def test_cleared_diffs_forget_what_was_left():
    """ClearParamDiffs zeroes the sums: what the backwards before it left is not added."""
    arrays = _net()
    _backwards(arrays, 2)
    arrays.clear_param_diffs()
    assert not arrays.deferred.kept
    _backwards(arrays, 1, seed=30)
    want, _ = _eager(1, seed=30)
    for c in CONVS:
        np.testing.assert_array_equal(arrays.param_diff(c, 0), want[c])


def test_past_the_bound_the_oldest_are_computed_and_the_sums_stay_the_same(monkeypatch):
    """Past MAX_BYTES the oldest kept gradients are computed to make room (each layer's in
    order); past MAX_TOTAL_BYTES a net defers no more."""
    one = _net()
    _backwards(one, 1)
    per_pass = one.deferred.nbytes
    monkeypatch.setattr(deferred_grads, "MAX_BYTES", per_pass + per_pass // 2)
    monkeypatch.setattr(deferred_grads, "MAX_TOTAL_BYTES", 4 * per_pass)
    arrays = _net()
    sizes = []
    _backwards(arrays, 6, between=lambda n: sizes.append(arrays.deferred.nbytes))
    assert max(sizes) <= deferred_grads.MAX_BYTES and sizes[0] == per_pass
    assert not arrays.deferred.active and arrays.deferred.total >= 4 * per_pass
    want, _ = _eager(6)
    for c in CONVS:
        np.testing.assert_array_equal(arrays.param_diff(c, 0), want[c])


def test_the_handover_settles_every_layer():
    arrays = _net()
    _backwards(arrays, 2)
    arrays.settle_all()
    assert not arrays.deferred.kept and arrays.deferred.active
    want, _ = _eager(2)
    for c in CONVS:
        np.testing.assert_array_equal(arrays.param_diffs[(c, 0)], want[c])


def test_pycaffe_reads_the_settled_diffs(tmp_path):
    """Through pycaffe: backward twice, then ``params[...][0].diff``."""
    import caffe
    path = tmp_path / "back.prototxt"
    path.write_text(BACK)
    net = caffe.Net(str(path), caffe.TEST)
    ref = _net()
    for name, values in ref.params.items():
        for k, v in enumerate(values):
            net.params[name][k].data[...] = v
    rng = np.random.default_rng(9)
    held = _net()
    kept = [held.param_diff(c, 0) for c in CONVS]
    for n in range(2):
        x = (rng.random(net.blobs["data"].data.shape) * 4 - 1).astype(np.float32)
        dy = rng.normal(size=net.blobs["sm"].data.shape).astype(np.float32)
        net.blobs["data"].data[...] = x
        net.forward()
        net.blobs["sm"].diff[...] = dy
        net.backward()
        held.data["data"][...] = x
        held.forward()
        held.diff_of("sm")[...] = dy
        held.backward()
    assert len(net._arrays.deferred.kept) == len(CONVS)      # left for when asked for
    for c, d in zip(CONVS, kept):
        np.testing.assert_array_equal(net.params[c][0].diff, d)


def test_caffe_time_times_the_weight_gradients(monkeypatch):
    """``caffe-compat time`` times the backward Caffe runs: its net defers nothing."""
    import types

    import caffe_compat.array_net
    import caffe_compat.io.prototxt
    from caffe_compat.cli import array_timing
    arrays = _net()
    seen = []
    monkeypatch.delenv("CAFFE_COMPAT_ARRAY_NET", raising=False)
    monkeypatch.setattr(caffe_compat.io.prototxt, "read_net", lambda path: None)
    monkeypatch.setattr(caffe_compat.array_net, "build_array_net", lambda *a, **k: arrays)
    monkeypatch.setattr(array_timing, "_time",
                        lambda args, phase, log, net, param: seen.append(net.deferred.active))
    args = types.SimpleNamespace(gpu=None, weights=None, source=None, model="net.prototxt",
                                 level=0, stage="")
    assert array_timing.time_on_arrays(args, "TEST", None)
    assert seen == [False]
