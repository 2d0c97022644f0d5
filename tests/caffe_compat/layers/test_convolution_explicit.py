"""Convolution's explicit calls (Caffe's Forward_cpu / Backward_cpu without the graph) against
its autograd path, through pycaffe's layer-by-layer passes: the same bits.

Tolerance 0: both run CaffeOrderConv2d's kernels, chosen by the same mask, on the same
tensors (caffe_compat.layers.convolution.caffe_order_backward).
"""
import numpy as np
import pytest

import caffe
from caffe_compat.net import train_plan

NET = """force_backward: true
input: "data" input_shape { %(dims)s }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" %(params)s
  convolution_param { %(conv)s weight_filler { type: "gaussian" std: 0.1 }
                      bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "conv2" type: "Convolution" bottom: "conv" top: "conv2"
  convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.1 } } }
"""

CASES = {
    "pointwise_one_image": ((1, 8, 6, 7), "num_output: 5 kernel_size: 1", ""),
    "pointwise_in_halves": ((1, 256, 12, 12), "num_output: 128 kernel_size: 1", ""),
    "pointwise_batch": ((3, 8, 6, 7), "num_output: 5 kernel_size: 1", ""),
    "stride_pad": ((2, 3, 9, 9), "num_output: 4 kernel_size: 3 pad: 1 stride: 2", ""),
    "groups_no_bias": ((3, 4, 8, 8), "num_output: 6 kernel_size: 3 group: 2 bias_term: false",
                       ""),
    "one_channel": ((2, 1, 10, 10), "num_output: 4 kernel_size: 5", ""),
    "far_padding": ((2, 2, 3, 3), "num_output: 3 kernel_size: 4 stride: 2", ""),
    "dilation": ((1, 3, 11, 11), "num_output: 4 kernel_size: 3 dilation: 2", ""),
    "large_one_image": ((1, 32, 30, 30), "num_output: 64 kernel_size: 3 pad: 1", ""),
    "large_batch": ((4, 16, 20, 20), "num_output: 16 kernel_size: 5 pad: 2", ""),
    "weight_frozen": ((2, 3, 8, 8), "num_output: 4 kernel_size: 3",
                      "param { lr_mult: 0 } param { lr_mult: 1 }"),
    "bias_frozen": ((1, 64, 9, 9), "num_output: 32 kernel_size: 1",
                    "param { lr_mult: 1 } param { lr_mult: 0 }"),
}


@pytest.fixture
def explicit_switch():
    saved = train_plan.ENABLED
    yield
    train_plan.ENABLED = saved


def _run(path, enabled, shape, seed):
    train_plan.ENABLED = enabled
    net = caffe.Net(str(path), caffe.TEST)
    rng = np.random.default_rng(seed)
    for name in ("conv", "conv2"):
        for blob in net.params[name]:
            blob.data[...] = rng.standard_normal(blob.data.shape).astype(np.float32) * 0.2
    out = []
    for step in range(2):          # twice: parameter diffs add up as in Caffe
        net.blobs["data"].data[...] = rng.standard_normal(shape).astype(np.float32)
        net.forward()
        net.blobs["conv2"].diff[...] = rng.standard_normal(
            net.blobs["conv2"].diff.shape).astype(np.float32)
        net.backward()
        out.append({k: (b.data.copy(), b.diff.copy()) for k, b in net.blobs.items()})
        out.append({k: [(p.data.copy(), p.diff.copy()) for p in v]
                    for k, v in net.params.items()})
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_explicit_convolution_is_autograd_bit_for_bit(tmp_path, name, explicit_switch):
    shape, conv, params = CASES[name]
    dims = " ".join(f"dim: {d}" for d in shape)
    path = tmp_path / "net.prototxt"
    path.write_text(NET % dict(dims=dims, conv=conv, params=params))
    explicit = _run(path, True, shape, 5)
    reference = _run(path, False, shape, 5)
    for got, want in zip(explicit, reference):
        assert got.keys() == want.keys()
        for key in got:
            a, b = got[key], want[key]
            pairs = zip(a, b) if isinstance(a, list) else [(a, b)]
            for x, y in pairs:
                for u, v in zip(x, y):
                    # tolerance 0 (module doc)
                    assert np.array_equal(u, v), (name, key)
    assert np.abs(explicit[0]["data"][1]).sum() > 0          # the bottom diff was computed


def test_the_explicit_calls_are_taken(tmp_path, explicit_switch):
    path = tmp_path / "net.prototxt"
    path.write_text(NET % dict(dims="dim: 1 dim: 4 dim: 5 dim: 5", params="",
                               conv="num_output: 2 kernel_size: 3"))
    train_plan.ENABLED = True
    net = caffe.Net(str(path), caffe.TEST)
    module = [m for k, m in net._net.layers.items() if k.endswith("conv")][0]
    assert module.explicit_ready()
    calls = []
    real = type(module).explicit_backward
    type(module).explicit_backward = lambda self, *a: calls.append(1) or real(self, *a)
    try:
        net.forward()
        net.blobs["conv2"].diff[...] = 1.0
        net.backward()
    finally:
        type(module).explicit_backward = real
    assert calls
