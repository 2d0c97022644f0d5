"""The inference fast path (caffe_compat.inference.fast_inference) against the layer-by-layer forward:
the same outputs within float32 rounding on reduced public zoo nets, intermediate blobs kept
when asked for, and never used where Caffe's exact order or autograd is wanted."""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.kernels import blas_order
from caffe_compat.inference import fast_inference
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.dnn import nets, zoo_nets

# Folding rounds BatchNorm/Scale into the float32 weights once and oneDNN sums in its own
# order: ~1e-6 of an output's scale after 50 layers (measured 1.2e-6 on ResNet-50's fc1000);
# 2e-5 leaves a margin for other CPUs' kernels.
TOL = 2e-5

NETS = {   # reduced widths and sizes: the same topologies, seconds instead of minutes
    "resnet50": (lambda: zoo_nets.resnet50(2, 64, 0.25), 64, "fc1000"),
    "mobilenet_v2": (lambda: zoo_nets.mobilenet_v2(2, 64, 0.25), 64, "fc7"),
    "squeezenet11": (lambda: zoo_nets.squeezenet11(2, 67, 0.25), 67, "conv10"),
    "res10_ssd": (lambda: nets.res10_ssd(), 300, "mbox_loc"),
}


def build(name):
    builder, size, inner = NETS[name]
    text, blobs = builder()
    net = Net(text, phase="test")
    net.copy_from(caffe_pb2.NetParameter.FromString(nets.caffemodel_bytes(text, blobs, seed=0)))
    x = torch.from_numpy(np.random.default_rng(0).uniform(-50, 50, (2, 3, size, size))
                         .astype(np.float32))
    return net, x, inner


def layer_by_layer(net, **kw):
    saved = fast_inference.ENABLED
    fast_inference.ENABLED = False
    try:
        with torch.inference_mode():
            return {k: v.clone() for k, v in net.forward(**kw).items()}
    finally:
        fast_inference.ENABLED = saved


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("name", list(NETS))
def test_fast_path_matches_layer_by_layer(name):
    net, x, inner = build(name)
    ref = layer_by_layer(net, data=x, blobs=[inner])
    with torch.inference_mode():
        out = net.forward(data=x, blobs=[inner], keep_blobs=False)
    plan = next(iter(net._fast_plans.values()))
    assert plan.skip, "nothing was folded"
    for k in ref:
        assert out[k].shape == ref[k].shape
        assert rel(out[k], ref[k]) < TOL, k


def test_folds_bn_scale_relu_and_eltwise_of_resnet():
    net, x, _ = build("resnet50")
    with torch.inference_mode():
        net.forward(data=x, keep_blobs=False)     # the blobs between layers are not kept
    chains = dict(next(iter(net._fast_plans.values())).chains)
    assert chains["conv1"] == ["bn_conv1", "scale_conv1", "conv1_relu"]
    assert chains["res2a_branch2c"] == ["bn2a_branch2c", "scale2a_branch2c", "res2a",
                                        "res2a_relu"]
    with torch.inference_mode():
        net.forward(data=x)                       # every blob kept: res2a_branch2c stays
    kept = dict(net._fast_plans[frozenset(net.blobs)].chains)
    assert kept["res2a_branch2c"] == ["bn2a_branch2c", "scale2a_branch2c"]


def test_kept_intermediate_blobs_are_not_folded_away():
    # cv2.dnn's forward("conv1") is the convolution's own output: dnn renames in-place tops,
    # and a blob that is asked for stops the chain there
    from caffe_compat import dnn
    text, blobs = zoo_nets.resnet50(1, 64, 0.25)
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    d = dnn.readNetFromCaffe(text.encode(), model)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    d.setInput(x)
    fast = d.forward(["conv1", "bn_conv1", "res2a_branch2c", "prob"])
    saved = fast_inference.ENABLED
    fast_inference.ENABLED = False
    try:
        d.setInput(x)
        slow = d.forward(["conv1", "bn_conv1", "res2a_branch2c", "prob"])
    finally:
        fast_inference.ENABLED = saved
    for a, b in zip(fast, slow):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= TOL * np.abs(b).max()


def test_weight_changes_refold():
    net, x, inner = build("mobilenet_v2")
    with torch.inference_mode():
        before = net.forward(data=x, blobs=[inner])[inner].clone()
    with torch.no_grad():
        net.params["conv1/scale"][0].mul_(2.0)
    ref = layer_by_layer(net, data=x, blobs=[inner])[inner]
    with torch.inference_mode():
        after = net.forward(data=x, blobs=[inner])[inner]
    assert rel(after, before) > 1e-3
    assert rel(after, ref) < TOL


def test_not_used_with_autograd_or_caffe_order_inference(monkeypatch):
    net, x, _ = build("squeezenet11")
    out = net.forward(data=x)        # autograd on: the exact path, no plan
    assert "_fast_plans" not in net.__dict__
    assert out["prob"].shape == (2, 1000, 1, 1)
    monkeypatch.setattr(blas_order, "INFERENCE", True)
    with torch.no_grad():
        assert not fast_inference.applies(net)
    monkeypatch.setattr(blas_order, "INFERENCE", False)
    with torch.no_grad():
        assert fast_inference.applies(net)
        net.fast_inference = False
        assert not fast_inference.applies(net)
