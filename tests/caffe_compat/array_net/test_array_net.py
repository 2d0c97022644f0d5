"""The array engine against the torch engine's Caffe-order forward and Caffe 1.0's blobs; what
it refuses; its fillers' draws; its caffemodel."""
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat.array_net import build_array_net, registered_types
from caffe_compat.data import caffe_random
from caffe_compat.io.prototxt import parse_net, read_net
from caffe_compat.kernels import blas_order, caffe_products
from tests.caffe_compat.reference import FORWARD_TOL, scaled_error
from tests.conftest import fixture_path, public_input

pytestmark = pytest.mark.skipif(not caffe_products.available(),
                                reason="the compiled kernel is not built")

# numpy's and torch's float32 exp differ in the last bit for some inputs; Softmax's outputs
# (in [0, 1], a sum of at most 1000 terms after it) then differ by a few units of 2**-24.
SOFTMAX_TOL = 1e-6

FORMS = """
name: "forms"
layer { name: "in" type: "Input" top: "data" top: "side"
        input_param { shape { dim: 2 dim: 6 dim: 13 dim: 11 } shape { dim: 2 dim: 4 dim: 7 } } }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 8 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 2
                            stride_h: 2 stride_w: 1 group: 2 } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" relu_param { negative_slope: 0.1 } }
layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
        convolution_param { num_output: 5 kernel_size: 3 dilation: 2 pad: 2 bias_term: false } }
layer { name: "n1" type: "LRN" bottom: "c2" top: "n1"
        lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }
layer { name: "pa" type: "Pooling" bottom: "n1" top: "pa"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pm" type: "Pooling" bottom: "n1" top: "pm"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pf" type: "Pooling" bottom: "n1" top: "pf"
        pooling_param { pool: AVE kernel_size: 2 stride: 2 round_mode: FLOOR } }
layer { name: "pg" type: "Pooling" bottom: "n1" top: "pg"
        pooling_param { pool: AVE global_pooling: true } }
layer { name: "cat" type: "Concat" bottom: "pa" bottom: "pm" top: "cat" }
layer { name: "d" type: "Dropout" bottom: "cat" top: "d" dropout_param { dropout_ratio: 0.3 } }
layer { name: "fl" type: "Flatten" bottom: "d" top: "fl" }
layer { name: "ip" type: "InnerProduct" bottom: "fl" top: "ip"
        inner_product_param { num_output: 7 } }
layer { name: "ipt" type: "InnerProduct" bottom: "side" top: "ipt"
        inner_product_param { num_output: 3 axis: 2 transpose: true } }
layer { name: "sm" type: "Softmax" bottom: "ip" top: "sm" }
layer { name: "sm2" type: "Softmax" bottom: "ipt" top: "sm2" softmax_param { axis: 1 } }
layer { name: "pgf" type: "Flatten" bottom: "pg" top: "pgf" }
layer { name: "ip2" type: "InnerProduct" bottom: "pgf" top: "ip2"
        inner_product_param { num_output: 300 } }
"""


def _torch_reference(net_param, arrays, feed):
    """Every blob of the torch engine's forward in Caffe's order (the exact products), with
    the array net's parameters."""
    net = caffe_compat.Net(net_param, phase="test")
    with torch.no_grad():
        for layer, values in arrays.params.items():
            for p, v in zip(net.params[layer], values):
                p.copy_(torch.from_numpy(v))
    saved = blas_order.INFERENCE
    blas_order.INFERENCE = True
    try:
        with torch.no_grad():
            net.forward(**{k: torch.from_numpy(v) for k, v in feed.items()}, keep_blobs=True)
    finally:
        blas_order.INFERENCE = saved
    return {name: net.blobs[name].data.numpy().copy() for name in arrays.data}


def _random_params(arrays, seed=0):
    rng = np.random.default_rng(seed)
    for values in arrays.params.values():
        for v in values:
            v[...] = rng.normal(scale=0.3, size=v.shape)


def _feed(arrays, batch=None, seed=1):
    rng = np.random.default_rng(seed)
    out = {}
    for name in arrays.inputs:
        shape = arrays.data[name].shape
        if batch is not None:
            shape = (batch,) + shape[1:]
        out[name] = (rng.random(shape) * 4 - 1).astype(np.float32)
    return out


@pytest.mark.parametrize("source", [
    "forms", "googlenet_deploy.prototxt",
    pytest.param("caffenet_deploy.prototxt", marks=pytest.mark.slow)])   # 3 s: the slow pass
def test_every_blob_is_the_torch_engines_caffe_order_forward(source):
    net_param = parse_net(FORMS) if source == "forms" else read_net(
        public_input("public-nets", "benchmark_nets", source))
    arrays = build_array_net(net_param, "TEST")
    assert arrays is not None
    _random_params(arrays)
    feed = _feed(arrays, batch=None if source == "forms" else 2)
    for name, value in feed.items():
        arrays.reshape_blob(name, value.shape)
        arrays.data[name][...] = value
    arrays.forward()
    expected = _torch_reference(net_param, arrays, feed)
    softmax_tops = {node.tops[0] for node in arrays.nodes if node.type == "Softmax"}
    for name, want in expected.items():
        got = arrays.data[name]
        assert got.shape == want.shape, name
        if name in softmax_tops:
            np.testing.assert_allclose(got, want, rtol=0, atol=SOFTMAX_TOL, err_msg=name)
        else:
            # the same kernels on the same values in the same order: the same bits
            np.testing.assert_array_equal(got, want, err_msg=name)


def _supported_part(net_param):
    """The layers of ``net_param`` the array engine runs whose bottoms it can compute, their
    fillers cleared (the fixture's weights replace them)."""
    types = set(registered_types())
    out = type(net_param)()
    out.CopyFrom(net_param)
    del out.layer[:]
    have = set()
    for lp in net_param.layer:
        if lp.type not in types or not all(b in have for b in lp.bottom):
            continue
        kept = out.layer.add()
        kept.CopyFrom(lp)
        for field in ("convolution_param", "inner_product_param"):
            if kept.HasField(field):
                getattr(kept, field).ClearField("weight_filler")
                getattr(kept, field).ClearField("bias_filler")
        if build_array_net(out, "TEST") is None:      # a form it leaves to torch
            del out.layer[-1]
            continue
        have.update(lp.top)
    return out


@pytest.mark.parametrize("name", ["deploy_cnnd", "layerzoo_a_conv", "layerzoo_a_struct"])
def test_blobs_match_caffe_1_0(name):
    """Caffe 1.0's blobs (the fixtures, written on an AVX2 OpenBLAS, whose kernel sums in
    another order than the AVX-512 one these products follow): FORWARD_TOL as every forward
    fixture test."""
    import json
    folder = fixture_path("caffe-reference", "forward", name)
    meta = json.loads((folder / "fixture.json").read_text())
    net_param = _supported_part(read_net(folder / meta["net"]))
    arrays = build_array_net(net_param, meta["phase"])
    assert arrays is not None
    arrays.copy_from(folder / meta["weights"])
    inputs = dict(np.load(folder / meta["inputs"]))
    for key in arrays.inputs:
        arrays.reshape_blob(key, inputs[key].shape)
        arrays.data[key][...] = inputs[key]
    arrays.forward()
    ref = dict(np.load(folder / meta["blobs"]))
    compared = 0
    for blob in arrays.data:
        if blob in ref and blob not in arrays.inputs:
            assert scaled_error(arrays.data[blob], ref[blob]) <= FORWARD_TOL, blob
            compared += 1
    assert compared >= 3


REFUSED = {
    "a loss layer": 'layer { name: "l" type: "HingeLoss" bottom: "data" bottom: "data" '
                    'top: "l" }',
    "a gaussian filler": 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                         'convolution_param { num_output: 2 kernel_size: 1 '
                         'weight_filler { type: "gaussian" } } }',
    "a shared parameter": 'layer { name: "c" type: "InnerProduct" bottom: "data" top: "c" '
                          'param { name: "w" } inner_product_param { num_output: 2 } }',
    "an Embed layer": 'layer { name: "n" type: "Embed" bottom: "data" top: "n" '
                      'embed_param { num_output: 2 input_dim: 4 } }',
    "STOCHASTIC pooling": 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
                          'pooling_param { pool: STOCHASTIC kernel_size: 2 } }',
    "MAX pooling's mask": 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" top: "m" '
                          'pooling_param { pool: MAX kernel_size: 2 } }',
    "a type it does not run": 'layer { name: "s" type: "Im2col" bottom: "data" top: "s" '
                              'convolution_param { kernel_size: 2 } }',
    "a Python layer": 'layer { name: "py" type: "Python" bottom: "data" top: "py" '
                      'python_param { module: "m" layer: "L" } }',
    "a shape error": 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                     'convolution_param { num_output: 2 kernel_size: 9 } }',
}
HEAD = ('name: "r" layer { name: "in" type: "Input" top: "data" '
        'input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n')


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_what_it_does_not_run_is_left_to_torch(what):
    assert build_array_net(parse_net(HEAD + REFUSED[what]), "TEST") is None


def test_dropout_while_training_is_left_to_torch():
    body = 'layer { name: "d" type: "Dropout" bottom: "data" top: "d" }'
    assert build_array_net(parse_net(HEAD + body), "TRAIN") is None
    assert build_array_net(parse_net(HEAD + body), "TEST") is not None


def test_xavier_and_uniform_fillers_take_the_torch_engines_draws():
    body = ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
            'convolution_param { num_output: 3 kernel_size: 3 pad: 1 '
            'weight_filler { type: "xavier" } bias_filler { type: "uniform" min: -1 max: 2 } } }'
            'layer { name: "ip" type: "InnerProduct" bottom: "c" top: "ip" '
            'inner_product_param { num_output: 4 weight_filler { type: "xavier" '
            'variance_norm: AVERAGE } bias_filler { type: "constant" value: 0.5 } } }')
    net_param = parse_net(HEAD + body)
    caffe_random.set_thread_seed(1234)
    arrays = build_array_net(net_param, "TEST")
    after_arrays = caffe_random.thread_stream().draw(4)
    caffe_random.set_thread_seed(1234)
    net = caffe_compat.Net(net_param, phase="test")
    after_torch = caffe_random.thread_stream().draw(4)
    for layer in ("c", "ip"):
        for got, want in zip(arrays.params[layer], net.params[layer]):
            np.testing.assert_array_equal(got, want.detach().numpy())
    np.testing.assert_array_equal(after_arrays, after_torch)   # the stream left alike


def test_the_caffemodel_is_the_torch_engines(tmp_path):
    net_param = parse_net(FORMS)
    arrays = build_array_net(net_param, "TEST")
    _random_params(arrays, seed=3)
    arrays.save(tmp_path / "a.caffemodel")
    net = caffe_compat.Net(net_param, phase="test")
    net.copy_from(str(tmp_path / "a.caffemodel"))
    for layer, values in arrays.params.items():
        for got, want in zip(values, net.params[layer]):
            np.testing.assert_array_equal(got, want.detach().numpy())
    net.save(str(tmp_path / "t.caffemodel"))
    assert (tmp_path / "a.caffemodel").read_bytes() == (tmp_path / "t.caffemodel").read_bytes()


BACK = """
name: "back"
force_backward: true
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 11 dim: 9 } } }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 6 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 2
                            stride_h: 2 stride_w: 1 group: 2 } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" relu_param { negative_slope: 0.1 } }
layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
        convolution_param { num_output: 5 kernel_size: 3 dilation: 2 pad: 2 bias_term: false } }
layer { name: "r2" type: "ReLU" bottom: "c2" top: "c2" }
layer { name: "n1" type: "LRN" bottom: "c2" top: "n1" lrn_param { local_size: 3 alpha: 0.5 } }
layer { name: "pm" type: "Pooling" bottom: "n1" top: "pm"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "c3" type: "Convolution" bottom: "n1" top: "c3"
        convolution_param { num_output: 5 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "cat" type: "Concat" bottom: "pm" bottom: "c3" top: "cat" }
layer { name: "d" type: "Dropout" bottom: "cat" top: "cat" }
layer { name: "fl" type: "Flatten" bottom: "cat" top: "fl" }
layer { name: "ip" type: "InnerProduct" bottom: "fl" top: "ip" inner_product_param { num_output: 7 } }
layer { name: "ipt" type: "InnerProduct" bottom: "ip" top: "ipt"
        inner_product_param { num_output: 4 transpose: true } }
layer { name: "sm" type: "Softmax" bottom: "ipt" top: "sm" }
"""

# Backward against the torch engine, whose convolution gradients take oneDNN's or the DFT's
# summation order at these sizes (the array engine keeps Caffe's im2col order) and whose
# products are MKL's: float32 sums in other orders, ~1e-6 of a diff's scale; 1e-4 as every
# backward parity test (one more reduction per layer).
BACKWARD_TOL = 1e-4


@pytest.mark.parametrize("start,end", [(None, 0), ("ipt", "c2"), ("n1", "in")])
def test_backward_is_the_torch_engines(start, end):
    from caffe_compat.net.stepwise import Stepwise
    net_param = parse_net(BACK)
    arrays = build_array_net(net_param, "TEST")
    _random_params(arrays, seed=4)
    feed = _feed(arrays, seed=5)
    net = caffe_compat.Net(net_param, phase="test")
    with torch.no_grad():
        for layer, values in arrays.params.items():
            for p, v in zip(net.params[layer], values):
                p.copy_(torch.from_numpy(v))
    store = Stepwise(net)
    for name, value in feed.items():
        arrays.data[name][...] = value
        store.data[name].copy_(torch.from_numpy(value))
    arrays.forward()
    store.forward()
    first = arrays.layer_index(start, len(arrays.nodes) - 1)
    last = arrays.layer_index(end, 0)
    rng = np.random.default_rng(6)
    for top in arrays.nodes[first].tops:
        value = rng.normal(size=arrays.data[top].shape).astype(np.float32)
        arrays.diff_of(top)[...] = value
        store.diff_of(top).copy_(torch.from_numpy(value))
    assert arrays.can_backward(first, last)
    for _ in range(2):                      # parameter diffs accumulate
        arrays.backward(first, last)
        store.backward(first, last)
    checked = 0
    for i in range(last, first + 1):
        node = arrays.nodes[i]
        for b, need in zip(node.bottoms, arrays.bottom_need[i]):
            if need:
                want = store.diff_of(b).numpy()
                assert scaled_error(arrays.diff_of(b), want) <= BACKWARD_TOL, b
                checked += 1
        for k, p in enumerate(net.params.get(node.name, [])):
            want = p.grad.numpy()
            assert scaled_error(arrays.param_diff(node.name, k), want) <= BACKWARD_TOL, \
                (node.name, k)
            checked += 1
    assert checked >= 3


def test_max_pooling_backward_is_caffes_loop():
    """Each top diff added at its maximum's flat index, outputs in order (overlapping
    windows add into the same input), against the loop written out."""
    text = HEAD.replace("dim: 4 dim: 4", "dim: 7 dim: 6") + \
        ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
         'pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }')
    arrays = build_array_net(parse_net(text), "TEST")
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=arrays.data["data"].shape).astype(np.float32)  # many ties
    arrays.data["data"][...] = x
    arrays.forward()
    dy = rng.normal(size=arrays.data["p"].shape).astype(np.float32)
    layer = arrays.layers[1]
    dx = np.empty_like(x)
    layer.backward([x], [arrays.data["p"]], [dx], [dy], (), [])
    want = np.zeros_like(x)
    n, c, oh, ow = dy.shape
    for a in range(n):
        for b in range(c):
            plane = want[a, b].reshape(-1)
            for i in range(oh):
                for j in range(ow):
                    plane[layer._mask[a, b, i, j]] += dy[a, b, i, j]
    np.testing.assert_array_equal(dx, want)


def test_a_training_net_with_data_and_loss_is_the_torch_engines(tmp_path, monkeypatch):
    """A Data layer (an LMDB, Caffe's seeds) and SoftmaxWithLoss: the same batches, fillers and
    loss, and the same diffs to BACKWARD_TOL, iteration after iteration."""
    from caffe_compat.net.stepwise import Stepwise
    from tests.caffe_compat.tools.test_time_on_arrays import NET, _write_lmdb
    _write_lmdb(tmp_path / "digits_lmdb")
    monkeypatch.chdir(tmp_path)
    net_param = parse_net(NET)
    caffe_random.set_thread_seed(11)
    arrays = build_array_net(net_param, "TRAIN", allow_data=True)
    assert build_array_net(net_param, "TRAIN") is None      # data layers: asked for only
    caffe_random.set_thread_seed(11)
    net = caffe_compat.Net(net_param, phase="train")
    store = Stepwise(net)
    try:
        for _ in range(3):
            loss = arrays.forward()
            arrays.backward()
            want = store.forward()
            store.backward()
            np.testing.assert_array_equal(arrays.data["data"], store.data["data"].numpy())
            np.testing.assert_array_equal(arrays.data["label"], store.data["label"].numpy())
            # a 10-way softmax's log over 8 items in another summation order
            assert abs(loss - want) <= 1e-6 * abs(want)
        for layer, values in arrays.params.items():
            for k, p in enumerate(net.params[layer]):
                assert scaled_error(arrays.param_diff(layer, k), p.grad.numpy()) <= \
                    BACKWARD_TOL, (layer, k)
    finally:
        arrays.close()


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_max_pooling_backward_kernel_has_the_same_bits_at_any_thread_count(threads):
    """``_pool_kernel.max_pool2d_backward`` shares planes among threads: each plane is one
    thread's, so the sums (overlapping windows) are in output order whatever the count."""
    from caffe_compat.kernels import _pool_kernel
    rng = np.random.default_rng(8)
    x = rng.integers(0, 4, size=(3, 40, 9, 8)).astype(np.float32)       # ties everywhere
    y = np.empty((3, 40, 5, 4), np.float32)
    mask = np.empty(y.shape, np.int64)
    _pool_kernel.max_pool2d(x, y, mask, 3, 3, 2, 2, 1, 1, 1)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = np.full(x.shape, np.nan, np.float32)                # every value written
    _pool_kernel.max_pool2d_backward(dy, mask, dx, threads)
    want = np.zeros_like(x)
    flat = want.reshape(3 * 40, -1)
    for p, (m, d) in enumerate(zip(mask.reshape(3 * 40, -1), dy.reshape(3 * 40, -1))):
        for i, at in enumerate(m):
            flat[p, at] += d[i]
    np.testing.assert_array_equal(dx, want)
