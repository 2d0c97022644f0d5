"""The channels-last layers (caffe_compat.inference.fast_layers) and the compiled run
(caffe_compat.inference.fast_run) of the inference fast path: each against the layer it replaces or the
loop it stands for, and weight writes through every API reaching a forward after them."""
import os

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.inference import fast_inference, fast_layers
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.dnn import nets, zoo_nets

# as test_fast_inference.TOL: float32 rounding of folded weights and oneDNN's summation order
TOL = 2e-5
CL = torch.channels_last


def one_layer(type_, params, shape):
    text = ('name: "t" layer { name: "in" type: "Input" top: "x" input_param { shape { %s } } }\n'
            'layer { name: "l" type: "%s" bottom: "x" top: "y" %s }\n'
            % (" ".join(f"dim: {d}" for d in shape), type_, params))
    net = Net(text, phase="test")
    node = net._nodes[1][0]
    return net.layers[net._nodes[1][1]], node


def inputs(shape, seed=0):
    x = torch.from_numpy(np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32))
    batch_one = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    if shape[0] == 1:       # a batch of one whose batch stride torch reads as NCHW
        batch_one = batch_one.as_strided(shape, (shape[1], 1, shape[3] * shape[1], shape[1]))
    return [x, x.contiguous(memory_format=CL), batch_one]


@pytest.mark.parametrize("params", [
    "pooling_param { pool: MAX kernel_size: 3 stride: 2 }",
    "pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 }",
    "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }",
    "pooling_param { pool: AVE kernel_size: 7 stride: 1 }",
    "pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 }",   # windows torch lacks
])
@pytest.mark.parametrize("shape", [(1, 16, 13, 13), (2, 8, 14, 14)])
def test_pooling_is_the_layer_in_channels_last(params, shape):
    module, node = one_layer("Pooling", params, shape)
    fn = fast_layers.replacement(module, node)
    with torch.inference_mode():
        for x in inputs(shape):
            ref, out = module(x.contiguous()), fn(x)
            # the same windows in the same order: equal values, not only close ones
            assert torch.equal(out, ref)


@pytest.mark.parametrize("beta", [0.75, 0.5])
@pytest.mark.parametrize("size", [5, 3, 1])
def test_lrn_across_channels_within_rounding(beta, size):
    shape = (1, 12, 9, 9)
    module, node = one_layer("LRN", f"lrn_param {{ local_size: {size} alpha: 0.5 "
                             f"beta: {beta} k: 2 }}", shape)
    fn = fast_layers.replacement(module, node)
    with torch.inference_mode():
        for x in inputs(shape):
            ref, out = module(x.contiguous()), fn(x)
            # the channel window summed in another order, s^-0.75 by rsqrt: a few float32
            # roundings (1e-6 relative allows 8 of them)
            assert float(((out - ref) / ref.abs().clamp_min(1e-30)).abs().max()) < 1e-6
            assert out.is_contiguous(memory_format=CL)


def test_lrn_within_channel_keeps_the_layer():
    module, node = one_layer("LRN", "lrn_param { local_size: 3 norm_region: WITHIN_CHANNEL }",
                             (1, 4, 6, 6))
    assert fast_layers.replacement(module, node) is None


def test_concat_of_mixed_layouts():
    text = ('name: "t" layer { name: "in" type: "Input" top: "a" top: "b" input_param { '
            'shape { dim: 1 dim: 3 dim: 5 dim: 5 } shape { dim: 1 dim: 4 dim: 5 dim: 5 } } }\n'
            'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" }\n')
    net = Net(text, phase="test")
    module, node = net.layers[net._nodes[1][1]], net._nodes[1][0]
    fn = fast_layers.replacement(module, node)
    a, b = inputs((1, 3, 5, 5))[2], inputs((1, 4, 5, 5), 1)[0]
    out = fn(a, b)
    assert torch.equal(out, module(a.contiguous(), b))
    assert out.is_contiguous(memory_format=CL)


def build(builder, size, batch=2):
    text, blobs = builder()
    net = Net(text, phase="test")
    net.copy_from(caffe_pb2.NetParameter.FromString(nets.caffemodel_bytes(text, blobs, seed=0)))
    x = torch.from_numpy(np.random.default_rng(0).uniform(-50, 50, (batch, 3, size, size))
                         .astype(np.float32))
    return net, x


def forward(net, x, compiled=True, layout=True, enabled=True, **kw):
    saved = (fast_inference.COMPILED_RUN, fast_inference.LAYOUT_LAYERS, fast_inference.ENABLED)
    fast_inference.COMPILED_RUN, fast_inference.LAYOUT_LAYERS = compiled, layout
    fast_inference.ENABLED = enabled
    try:
        with torch.inference_mode():
            return {k: v.clone() for k, v in net.forward(data=x, **kw).items()}
    finally:
        (fast_inference.COMPILED_RUN, fast_inference.LAYOUT_LAYERS,
         fast_inference.ENABLED) = saved


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def test_googlenet_in_channels_last_matches_layer_by_layer():
    net, x = build(nets.googlenet, 224, batch=1)
    inner = ["pool1/norm1", "inception_3a/output", "pool5/7x7_s1"]
    ref = forward(net, x, enabled=False, blobs=inner)
    out = forward(net, x, blobs=inner, keep_blobs=False)
    replaced = {net._nodes[i][0].type for p in net._fast_plans.values() for i in p.replace}
    assert {"Pooling", "LRN", "Concat"} <= replaced
    for k in ref:
        assert rel(out[k], ref[k]) < TOL, k


@pytest.mark.parametrize("keep_blobs", [False, True])
def test_compiled_run_is_the_plan_loop_bit_for_bit(keep_blobs):
    net, x = build(lambda: zoo_nets.resnet50(2, 64, 0.25), 64)
    loop = forward(net, x, compiled=False, blobs=["res2a"], keep_blobs=keep_blobs)
    kept = {n: b.data.clone() for n, b in net.blobs.items()} if keep_blobs else None
    out = forward(net, x, blobs=["res2a"], keep_blobs=keep_blobs)
    plans = [p for p in net._fast_plans.values() if getattr(p, "_run", None) is not None]
    assert plans, "the compiled run was not used"
    for k in loop:
        assert torch.equal(out[k], loop[k]), k
    if keep_blobs:
        for n, b in net.blobs.items():
            assert torch.equal(b.data, kept[n]), n


def test_compiled_run_frees_blobs_not_kept():
    net, x = build(lambda: zoo_nets.squeezenet11(1, 67, 0.25), 67)
    with torch.inference_mode():
        net.forward(data=x, keep_blobs=False)
    run = next(p for p in net._fast_plans.values() if getattr(p, "_run", None) is not None)._run
    values, _, _ = run({"data": x})
    assert set(net.outputs) <= set(values)
    assert len(values) < len(net.blobs) // 3        # the others were freed on the way


def test_input_shape_change_and_weight_writes_reach_the_fast_path():
    net, x = build(lambda: zoo_nets.mobilenet_v2(2, 64, 0.25), 64)
    forward(net, x)
    small = x[:1, :, :48, :48].contiguous()
    assert rel(forward(net, small)["prob"], forward(net, small, enabled=False)["prob"]) < TOL
    with torch.no_grad():
        net.params["conv1"][0].mul_(-1.5)          # an in-place write to a parameter
    assert rel(forward(net, x)["prob"], forward(net, x, enabled=False)["prob"]) < TOL


def test_weight_writes_through_pycaffe_views(tmp_path):
    import caffe
    text, blobs = zoo_nets.mobilenet_v2(1, 32, 0.25)
    proto, model = tmp_path / "n.prototxt", tmp_path / "n.caffemodel"
    proto.write_text(text)
    model.write_bytes(nets.caffemodel_bytes(text, blobs, seed=0))
    net = caffe.Net(os.fspath(proto), caffe.TEST, weights=os.fspath(model))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    before = net.forward(data=x, blobs=["fc7"])["fc7"].copy()
    net.params["conv1"][0].data[...] *= -2.0       # numpy writes do not move torch's version
    after = net.forward(data=x, blobs=["fc7"])["fc7"].copy()
    fresh = caffe.Net(os.fspath(proto), caffe.TEST, weights=os.fspath(model))
    fresh.params["conv1"][0].data[...] *= -2.0
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_array_equal(after, fresh.forward(data=x, blobs=["fc7"])["fc7"])
    # the same through the fast path of the underlying net
    inner = net._net
    with torch.inference_mode():
        fast = inner.forward(data=torch.from_numpy(x), blobs=["fc7"], keep_blobs=False)["fc7"]
    net.params["conv1"][0].data[...] *= 0.5
    with torch.inference_mode():
        fast2 = inner.forward(data=torch.from_numpy(x), blobs=["fc7"], keep_blobs=False)["fc7"]
    fresh.params["conv1"][0].data[...] *= 0.5
    ref = fresh.forward(data=x, blobs=["fc7"])["fc7"]
    assert rel(fast2, torch.from_numpy(ref)) < TOL
    assert np.abs(fast2.numpy() - fast.numpy()).max() > 1e-3


def test_weight_writes_through_dnn_set_param():
    from caffe_compat import dnn
    text, blobs = zoo_nets.squeezenet11(1, 67, 0.25)
    d = dnn.readNetFromCaffe(text.encode(), nets.caffemodel_bytes(text, blobs, seed=0))
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 67, 67)).astype(np.float32)
    d.setInput(x)
    before = d.forward()
    w = d.getParam("conv1", 0)
    d.setParam("conv1", 0, -w)
    d.setInput(x)
    after = d.forward()
    saved = fast_inference.ENABLED
    fast_inference.ENABLED = False
    try:
        d.setInput(x)
        ref = d.forward()
    finally:
        fast_inference.ENABLED = saved
    assert np.abs(after - before).max() > 1e-6
    assert np.abs(after - ref).max() <= TOL * np.abs(ref).max()


def test_packed_weights_give_the_plain_weights_outputs():
    net, x = build(lambda: zoo_nets.resnet50(1, 64, 0.25), 64, batch=1)
    saved = fast_inference.PACKED_WEIGHTS
    fast_inference.PACKED_WEIGHTS = False
    try:
        plain = forward(net, x)["prob"]
    finally:
        fast_inference.PACKED_WEIGHTS = saved
    packed = forward(net, x)["prob"]
    # only the weights' order in memory differs; oneDNN's kernels may still sum otherwise
    assert rel(packed, plain) < TOL


@pytest.mark.skipif(not fast_inference.ONEDNN_POST_OPS, reason="this torch has no oneDNN "
                    "post-op convolution: the plan runs the public calls only")
def test_a_shape_the_fused_sum_refuses_takes_the_public_calls(monkeypatch):
    """torch 2.11's oneDNN refuses the convolution-plus-sum primitive for a 1 x 1 map; the
    shape it refuses runs F.conv2d, the sum and the ReLU instead, from then on."""
    net, x = build(lambda: zoo_nets.mobilenet_v2(1, 32, 0.25), 32, batch=1)
    ref = forward(net, x, enabled=False, blobs=["fc7"])["fc7"]
    calls = []

    def refuses(*args):
        calls.append(tuple(args[0].shape))
        raise RuntimeError("could not create a memory")
    monkeypatch.setattr(torch.ops.mkldnn._convolution_pointwise, "binary", refuses)
    first = forward(net, x, blobs=["fc7"], keep_blobs=False)["fc7"]
    refused = len(calls)
    second = forward(net, x, blobs=["fc7"], keep_blobs=False)["fc7"]
    assert refused and len(calls) == refused          # each shape asked once, then not again
    assert rel(first, ref) < TOL and torch.equal(first, second)


def test_batch_norm_scale_relu_after_no_convolution_as_one_affine():
    # res10's pre-activation blocks: BatchNorm -> Scale -> ReLU read an Eltwise sum
    net, x = build(nets.res10_ssd, 300, batch=1)
    ref = forward(net, x, enabled=False, blobs=["mbox_loc"])
    out = forward(net, x, blobs=["mbox_loc"], keep_blobs=False)
    affine = [fn for p in net._fast_plans.values() for fn, _, _ in p.replace.values()
              if isinstance(fn, fast_inference.FoldedAffine)]
    assert affine and any(f.slope == 0.0 for f in affine)
    for k in ref:
        assert rel(out[k], ref[k]) < TOL, k
    bn = next(m for m in affine[0].links if m.type_name == "BatchNorm")
    with torch.no_grad():
        bn.blobs[0].add_(0.5)                      # the means move: the factors follow
    ref = forward(net, x, enabled=False, blobs=["mbox_loc"])
    out = forward(net, x, blobs=["mbox_loc"], keep_blobs=False)
    assert rel(out["mbox_loc"], ref["mbox_loc"]) < TOL
