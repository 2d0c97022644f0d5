"""An engine forward of ``caffe_compat.Net`` that takes the last engine forward's way again
(caffe_compat.net.engine_route): the same outputs as the full way, and the full way wherever
what the way was chosen on changed (weights written, a tensor fed, another shape, the engine,
the thread count, torch's deterministic-inference switch)."""
import collections

import numpy as np
import pytest
import torch

from caffe_compat.inference.engines import choose
from caffe_compat.kernels import blas_order
from tests.caffe_compat.public_nets import build, net_input

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
# float32 engines against our forward: the order of the sums (as the engines' trust check)
TOL = 1e-4


@pytest.fixture
def lenet(engine_cache):
    net, _ = build("LeNet")
    net.engine = "onnxruntime"
    feed = {k: np.ascontiguousarray(v, np.float32) for k, v in net_input(net, "LeNet", 2).items()}
    return net, feed


def _forward(net, feed):
    with torch.inference_mode():
        return net.forward(keep_blobs=False, **feed)


def _route(net):
    return net.__dict__.get("_engine_route")


def test_second_forward_takes_the_route_with_the_full_ways_outputs(lenet):
    net, feed = lenet
    _forward(net, feed)
    route = _route(net)
    assert route is not None
    second = _forward(net, feed)
    assert _route(net) is route and isinstance(second, collections.OrderedDict)
    net.__dict__["_engine_route"] = None
    full = _forward(net, feed)
    assert list(second) == list(full)
    for k in full:
        assert torch.equal(second[k], full[k])


def test_weights_written_tensor_fed_or_other_shape_take_the_full_way(lenet):
    net, feed = lenet
    first = _forward(net, feed)
    route = _route(net)
    with torch.no_grad():
        net.params["ip2"][0].mul_(-1.5)         # written in place: the next forward exports
    written = _forward(net, feed)
    assert _route(net) is not route
    with torch.inference_mode():
        ours = net.forward(**feed)              # our forward of the written weights
    for k in written:
        scale = float(ours[k].abs().max())
        assert float((written[k] - ours[k]).abs().max()) <= TOL * scale
        assert not torch.equal(written[k], first[k])
    route = _route(net)
    as_tensor = _forward(net, {k: torch.from_numpy(v) for k, v in feed.items()})
    assert _route(net) is not route
    for k in as_tensor:
        assert torch.equal(as_tensor[k], written[k])
    bigger = {k: np.concatenate([v, v]) for k, v in feed.items()}
    out = _forward(net, bigger)
    assert _route(net).names[0][1][0] == 2 * next(iter(feed.values())).shape[0]
    for k in out:
        assert torch.equal(out[k][:len(written[k])], written[k])


def test_engine_thread_count_and_switch_take_the_full_way(lenet, monkeypatch):
    net, feed = lenet
    _forward(net, feed)
    runner = _route(net).runner
    threads = choose.engine_threads()
    monkeypatch.setattr(choose, "engine_threads", lambda: threads + 1)
    _forward(net, feed)                         # a session for the new count
    assert any(k[0] == threads + 1 for k in runner._runs)
    monkeypatch.setattr(blas_order, "INFERENCE", True)
    _forward(net, feed)                         # our own forward, its rule's order
    assert _route(net) is None
    monkeypatch.setattr(blas_order, "INFERENCE", False)
    net.engine = "torch"
    _forward(net, feed)
    net.engine = "auto"
    _forward(net, feed)
    assert _route(net).engine == "auto"
