"""caffe_compat.inference.graph_replay: an output-only forward captured at the second call of an
input signature and replayed from the third, its outputs the forward's bit for bit; a written
weight drops the graphs; at most MAX_GRAPHS signatures; a forward that cannot be captured runs
as before after one warning. On the CPU the rule runs on the stand-in graph (the capture's
contract without a GPU); the ``cuda`` tests run it with CUDA graphs."""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.inference import graph_replay
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.dnn import nets, zoo_nets


def small_net(device="cpu"):
    text, blobs = zoo_nets.mobilenet_v2(1, 32, 0.25)
    net = Net(text, phase="test")
    net.copy_from(caffe_pb2.NetParameter.FromString(nets.caffemodel_bytes(text, blobs, seed=0)))
    return net.to(device)


def batch(seed, n=1, device="cpu"):
    x = np.random.default_rng(seed).uniform(-50, 50, (n, 3, 32, 32)).astype(np.float32)
    return torch.from_numpy(x).to(device)


def forward(net, x):
    with torch.inference_mode():
        return net.forward(data=x, blobs=["fc7"], keep_blobs=False)["fc7"]


def graphed(net):
    runs = [p._run for p in net.__dict__.get("_fast_plans", {}).values()
            if isinstance(getattr(p, "_run", None), graph_replay.GraphedRun)]
    assert len(runs) == 1
    return runs[0]


@pytest.fixture
def standin(monkeypatch):
    monkeypatch.setitem(graph_replay.CAPTURE, "cpu", graph_replay.StandInGraph)


def eager(net, x):
    saved = graph_replay.ENABLED
    graph_replay.ENABLED = False
    try:
        fresh = small_net(x.device.type)
        fresh.load_state_dict(net.state_dict())
        return forward(fresh, x)
    finally:
        graph_replay.ENABLED = saved


def test_captured_at_the_second_forward_and_replayed_after(standin):
    net = small_net()
    outs = [forward(net, batch(k)) for k in range(4)]
    run = graphed(net)
    (captured,) = run.graphs.values()
    assert captured.graph.replays == 2                    # the third and fourth forwards
    for k, out in enumerate(outs):                        # each forward's own outputs, kept
        assert torch.equal(out, eager(net, batch(k)))


def test_a_written_weight_drops_the_graph(standin):
    net = small_net()
    for k in range(3):
        forward(net, batch(k))
    with torch.no_grad():
        net.params["conv1"][0].mul_(-2.0)
    after = forward(net, batch(7))
    assert not graphed(net).graphs                        # dropped, run as a first forward
    assert torch.equal(after, eager(net, batch(7)))
    forward(net, batch(8))                                # captured again
    again = forward(net, batch(7))
    assert graphed(net).graphs and torch.equal(again, after)


def test_a_replaced_weight_drops_the_graph(standin):
    net = small_net()
    for k in range(3):
        forward(net, batch(k))
    state = {k: v.clone() * (-1.0 if k.endswith("conv1.weight") else 1.0)
             for k, v in net.state_dict().items()}
    net.load_state_dict(state, assign=True)            # new tensors, no write to the old
    after = forward(net, batch(7))
    assert not graphed(net).graphs
    assert torch.equal(after, eager(net, batch(7)))


def test_each_signature_its_own_graph_at_most_max_graphs(standin, monkeypatch):
    monkeypatch.setattr(graph_replay, "MAX_GRAPHS", 2)
    net = small_net()
    for n in (1, 2, 3):
        forward(net, batch(0, n))
        forward(net, batch(1, n))
    run = graphed(net)
    assert [sig[0][0][1][0] for sig in run.graphs] == [2, 3]      # batch 1's went first
    assert torch.equal(forward(net, batch(5, 3)), eager(net, batch(5, 3)))


def test_a_forward_that_cannot_be_captured_runs_as_before(monkeypatch):
    class Refuses:
        def __init__(self, run, inputs):
            raise RuntimeError("operation not permitted when stream is capturing")
    monkeypatch.setitem(graph_replay.CAPTURE, "cpu", Refuses)
    net = small_net()
    forward(net, batch(0))
    with pytest.warns(graph_replay.GraphCaptureWarning, match="not permitted"):
        second = forward(net, batch(1))
    third = forward(net, batch(2))                        # refused: no second warning
    assert torch.equal(second, eager(net, batch(1))) and torch.equal(third, eager(net, batch(2)))
    assert not graphed(net).graphs


def test_forwards_that_keep_blobs_are_not_captured(standin):
    net = small_net()
    with torch.inference_mode():
        for k in range(3):
            net.forward(data=batch(k))
    assert not any(isinstance(getattr(p, "_run", None), graph_replay.GraphedRun)
                   for p in net.__dict__.get("_fast_plans", {}).values())


def test_off_by_the_switch(standin, monkeypatch):
    monkeypatch.setattr(graph_replay, "ENABLED", False)
    net = small_net()
    for k in range(3):
        forward(net, batch(k))
    assert not any(isinstance(getattr(p, "_run", None), graph_replay.GraphedRun)
                   for p in net.__dict__.get("_fast_plans", {}).values())


def test_off_for_one_net_and_on_again(standin):
    net = small_net()
    net.device_graphs = False
    for k in range(3):
        forward(net, batch(k))
    assert not graphed(net).graphs and not graphed(net).seen
    net.device_graphs = True
    for k in range(3):
        forward(net, batch(k))
    (captured,) = graphed(net).graphs.values()
    assert captured.graph.replays == 1


@pytest.mark.cuda
def test_cuda_graph_replays_the_forward_bit_for_bit():
    net = small_net("cuda")
    outs = [forward(net, batch(k, 2, "cuda")) for k in range(4)]
    (captured,) = graphed(net).graphs.values()
    assert isinstance(captured.graph, graph_replay.DeviceGraph)
    for k, out in enumerate(outs):
        assert torch.equal(out, eager(net, batch(k, 2, "cuda")))
    with torch.no_grad():
        net.params["conv1"][0].mul_(-2.0)
    assert torch.equal(forward(net, batch(9, 2, "cuda")), eager(net, batch(9, 2, "cuda")))
