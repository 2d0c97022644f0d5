"""Convolution against Caffe 1.0 (layerzoo_a_conv: pad, stride, group, dilation, rectangular
kernel without bias; the CNN+D and SR nets) and against a direct NumPy sum."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffe_compat import NetError
from caffe_compat.kernels.fixed_order import conv_weight_grad, sum_dims
from caffe_compat.layers.convolution import one_channel_columns, one_channel_conv2d
from tests.caffe_compat.layers.helpers_struct import layer_grads, leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64: each output is a sum of at most 36 products.
F64_TOL = 1e-12


@pytest.mark.parametrize("fixture", ["layerzoo_a_conv", "cnnd_trainval_test", "deploy_cnnd",
                                     "deploy_srcnn", "pretrain_test"])
def test_convolution_matches_caffe(fixture):
    fwd, bwd = report(f"Convolution ({fixture})", check_layer_type(fixture, "Convolution"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def direct_conv(x, w, b, stride, pad, dil, group):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - (dil[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dil[1] * (kw - 1) + 1)) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    per = o // group
    for f in range(o):
        g = f // per
        for i in range(oh):
            for j in range(ow):
                for a in range(kh):
                    for d in range(kw):
                        patch = xp[:, g * cg:(g + 1) * cg, i * stride[0] + a * dil[0],
                                   j * stride[1] + d * dil[1]]
                        out[:, f, i, j] += patch @ w[f, :, a, d]
        out[:, f] += b[f]
    return out


def test_against_a_direct_sum():
    rng = np.random.default_rng(21)
    x = rng.normal(size=(2, 4, 9, 8))
    layer = make_layer('name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { '
                       'num_output: 6 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 '
                       'pad_h: 1 pad_w: 2 dilation: 2 group: 2 }', x.shape).double()
    assert tuple(layer.weight.shape) == (6, 2, 3, 2)  # (num_output, C / group, kh, kw)
    w, b = rng.normal(size=(6, 2, 3, 2)), rng.normal(size=6)
    layer.weight.data.copy_(torch.from_numpy(w))
    layer.bias.data.copy_(torch.from_numpy(b))
    want = direct_conv(x, w, b, (2, 1), (1, 2), (2, 2), 2)
    assert layer.top_shapes([x.shape]) == [want.shape]
    assert np.abs(layer(leaf(x)).detach().numpy() - want).max() <= F64_TOL


@pytest.mark.parametrize("grad", [True, False])
def test_kernel_longer_than_the_padded_input_by_less_than_a_stride(grad):
    # Caffe's (in + 2p - extent) / stride + 1 truncates toward zero: one output row whose
    # window reads zeros past the end (as Caffe's im2col); against Caffe: test_wide_windows.py
    rng = np.random.default_rng(22)
    x = rng.normal(size=(2, 2, 2, 9)).astype(np.float32)
    layer = make_layer('name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { '
                       'num_output: 3 kernel_h: 2 kernel_w: 3 dilation: 2 stride: 3 '
                       'pad_h: 0 pad_w: 1 }', x.shape)
    assert layer.top_shapes([x.shape]) == [(2, 3, 1, 3)]   # h: (2 - 3) / 3 + 1 = 1
    w, b = rng.normal(size=(3, 2, 2, 3)), rng.normal(size=3)
    layer.weight.data.copy_(torch.from_numpy(w))
    layer.bias.data.copy_(torch.from_numpy(b))
    want = direct_conv(np.pad(x.astype(np.float64), ((0, 0), (0, 0), (0, 1), (0, 0))), w, b,
                       (3, 3), (0, 1), (2, 2), 1)
    with torch.set_grad_enabled(grad):
        got = layer(torch.from_numpy(x)).detach().numpy()
    # float32 sums of 12 products of values of order 1
    assert np.abs(got - want).max() <= 1e-5


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'cv'.*multiples of group \(2\)"):
        make_layer('name: "cv" type: "Convolution" bottom: "x" top: "y" '
                   'convolution_param { num_output: 4 kernel_size: 3 group: 2 }', (1, 3, 8, 8))
    with pytest.raises(NetError, match=r"layer 'cv'.*kernel size is not specified"):
        make_layer('name: "cv" type: "Convolution" bottom: "x" top: "y" '
                   'convolution_param { num_output: 4 }', (1, 3, 8, 8))
    layer = make_layer('name: "cv" type: "Convolution" bottom: "x" top: "y" '
                       'convolution_param { num_output: 4 kernel_size: 9 }', (1, 3, 8, 8))
    with pytest.raises(NetError, match=r"layer 'cv'.*output would be empty"):
        layer.top_shapes([(1, 3, 8, 8)])


def test_a_lone_pad_side_is_zero_a_lone_kernel_or_stride_side_refused():
    """BaseConvolutionLayer::LayerSetUp reads pad_h and pad_w once either is set, an unset one
    as 0 (real Caffe 1.0: kernel 1x3 with only pad_w 1 on 5x5 gives 5x5); a lone kernel side
    is refused ("Filter dimensions must be nonzero") and a lone stride side divides by zero."""
    conv = ('name: "cv" type: "Convolution" bottom: "x" top: "y" '
            'convolution_param { num_output: 1 %s }')
    layer = make_layer(conv % "kernel_h: 1 kernel_w: 3 pad_w: 1", (1, 1, 5, 5))
    assert layer.top_shapes([(1, 1, 5, 5)]) == [(1, 1, 5, 5)]
    assert make_layer(conv % "kernel_size: 3 pad_h: 2", (1, 1, 5, 5)).top_shapes(
        [(1, 1, 5, 5)]) == [(1, 1, 7, 3)]
    for lone in ("kernel_h: 3", "kernel_size: 3 stride_w: 2"):
        with pytest.raises(NetError, match=r"layer 'cv'.*both (kernel|stride)_h and (kernel|stride)_w"):
            make_layer(conv % lone, (1, 1, 5, 5))


@pytest.mark.parametrize("channels", [1, 3])
def test_caffe_order_forward_and_backward(monkeypatch, channels):
    """With the Caffe-order forward (caffe_compat.kernels.blas_order) the forward values agree with
    torch's convolution within float32 summation-order differences (1e-5 scaled); the input
    and weight gradients are Caffe's two gemms (blas_order.conv2d_grads, bit
    for bit), within the same summation-order differences of torch's; with
    ``blas_order.GRADIENTS`` off the input gradient is torch's own and the weight gradient
    kernels.fixed_order.conv_weight_grad's, bit for bit, whatever the thread count; the bias
    gradient is ATen's one-thread sum of the top gradient (kernels.fixed_order)."""
    from caffe_compat.kernels import blas_order
    if not blas_order.available():
        pytest.skip("the _exact_gemm extension is not built")
    text = ('name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { '
            'num_output: 8 kernel_size: 3 pad: 1 stride: 2 }')
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, channels, 12, 11)).astype(np.float32)
    w = rng.normal(size=(8, channels, 3, 3)).astype(np.float32)
    b = rng.normal(size=8).astype(np.float32)
    g = torch.from_numpy(rng.normal(size=(4, 8, 6, 6)).astype(np.float32))
    results = []
    monkeypatch.setattr(blas_order, "GRADIENT_MIN_WORK", 0)     # this small layer too
    for enabled, gradients in ((True, True), (False, True), (True, False)):
        monkeypatch.setattr(blas_order, "ENABLED", enabled)
        monkeypatch.setattr(blas_order, "GRADIENTS", gradients)
        results.append([t.numpy() for t in layer_grads(text, x, (w, b), g)])
    (y1, *grads1), (y2, *grads2), (y3, *grads3) = results
    assert np.abs(y1 - y2).max() / np.abs(y2).max() <= 1e-5
    geometry = ((2, 2), (1, 1), (1, 1), 1)
    gx, gw = blas_order.conv2d_grads(torch.from_numpy(x), torch.from_numpy(w), g, *geometry)
    assert np.array_equal(grads1[0], gx.numpy()) and np.array_equal(grads1[1], gw.numpy())
    for a, c in zip(grads1[:2], grads2[:2]):
        # float32 sums of at most 72 products in two orders
        assert np.abs(a - c).max() <= 1e-5 * np.abs(c).max()
    # torch's own input gradient (oneDNN's, the same bits at any thread count) ...
    assert np.array_equal(grads3[0], grads2[0])
    # ... and oneDNN's weight gradient in two fixed halves of the batch, bit for bit, which
    # differs from oneDNN's whole-batch one at some thread counts by float32 summation order
    # (sums of at most 144 products)
    assert np.array_equal(grads3[1], conv_weight_grad(
        g, torch.from_numpy(x), torch.from_numpy(w), *geometry).numpy())
    assert np.abs(grads3[1] - grads2[1]).max() <= 1e-5 * np.abs(grads2[1]).max()
    assert np.array_equal(grads1[2], sum_dims(g, (0, 2, 3)).numpy())
    # oneDNN's bias gradient sums in another order: float32 rounding of 144 terms
    assert np.abs(grads1[2] - grads2[2]).max() <= 1e-5 * np.abs(grads2[2]).max()


@pytest.mark.parametrize("size, kernel, stride, pad, dilation", [
    ((28, 28), (5, 5), (1, 1), (0, 0), (1, 1)),     # LeNet's conv1
    ((17, 13), (3, 5), (2, 3), (1, 2), (1, 1)),
    ((20, 21), (3, 3), (1, 2), (0, 1), (2, 3)),
    ((96, 96), (9, 9), (4, 4), (4, 4), (1, 1)),
])
def test_one_channel_columns_are_unfolds(size, kernel, stride, pad, dilation):
    x = torch.rand(3, 1, *size, generator=torch.Generator().manual_seed(0))
    out = tuple((s + 2 * p - (d * (k - 1) + 1)) // st + 1
                for s, k, st, p, d in zip(size, kernel, stride, pad, dilation))
    # tolerance 0: both copy the same values
    assert torch.equal(one_channel_columns(x, kernel, stride, pad, dilation, out),
                       F.unfold(x, kernel, dilation, pad, stride))


def test_one_channel_columns_read_zeros_past_the_end():
    """Caffe's last window may reach past the padded input (a kernel longer than it by less
    than a stride): zeros there, as Caffe's im2col reads."""
    x = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    cols = one_channel_columns(x, (3, 3), (4, 4), (0, 0), (1, 1), (2, 2))
    padded = F.pad(x, (0, 1, 0, 1))
    assert torch.equal(cols, F.unfold(padded, (3, 3), 1, 0, 4))


@pytest.mark.parametrize("size, kernel, stride, pad", [
    ((28, 28), (5, 5), (1, 1), (0, 0)),             # LeNet's conv1
    ((17, 13), (3, 5), (2, 3), (1, 2)),
    ((33, 33), (9, 9), (1, 1), (4, 4)),             # SRCNN's conv1
])
def test_one_channel_conv2d_against_a_direct_sum(size, kernel, stride, pad):
    """The one-channel inference convolution (im2col columns, one GEMM, the bias), float64."""
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(2, 1) + size), rng.normal(size=(4, 1) + kernel), rng.normal(size=4)
    got = one_channel_conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                             stride, pad)
    want = direct_conv(x, w, b, stride, pad, (1, 1), 1)
    assert got.shape == want.shape and np.abs(got.numpy() - want).max() <= F64_TOL


def test_one_channel_inference_takes_the_columns():
    """A no-grad float32 forward of a one-channel layer (the CPU inference choice of
    layers/convolution.py, outside Caffe's order) is one_channel_conv2d's, bit for bit."""
    x = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    layer = make_layer('name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { '
                       'num_output: 3 kernel_size: 3 stride: 2 pad: 1 '
                       'weight_filler { type: "gaussian" } }', x.shape)
    with torch.no_grad():
        y = layer(x)
        # tolerance 0: the same calls on the same values
        assert torch.equal(y, one_channel_conv2d(x, layer.weight, layer.bias, [2, 2], [1, 1]))
