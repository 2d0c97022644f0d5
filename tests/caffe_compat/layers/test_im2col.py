"""Im2col against Caffe 1.0 (2-D with separate h/w kernel, stride, pad and dilation; 2-D through
``force_nd_im2col``; 3-D; one spatial axis after ``axis: 2``) and its layout rules."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

# im2col only copies values: the forward is bit-identical.
EXACT = 0.0


@pytest.mark.parametrize("case", ["im2col_2d", "im2col_2d_nd", "im2col_3d", "im2col_1d_axis2"])
def test_im2col_matches_caffe(case):
    run = CaseRun(case)
    rows = run.compare()
    fwd, bwd = report(f"Im2col ({case})", rows)
    assert fwd <= EXACT and bwd <= BACKWARD_TOL


def test_layout_is_channel_major_rows_of_output_positions():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    layer = make_layer('name: "i" type: "Im2col" bottom: "x" top: "c" convolution_param { '
                       'kernel_size: 2 stride: 1 pad: 1 }', x.shape)
    top = layer(leaf(x)).detach().numpy()
    assert top.shape == (2, 3 * 2 * 2, 5, 6)
    # row (c, i, j), column (y, z): x[c, y - 1 + i, z - 1 + j], 0 in the padding
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for c in range(3):
        for i in range(2):
            for j in range(2):
                want = padded[:, c, i:i + 5, j:j + 6]
                assert np.abs(top[:, c * 4 + i * 2 + j] - want).max() <= EXACT
    # the N-D path (3 spatial axes, one of size 1) agrees with the 2-D one
    layer3 = make_layer('name: "i" type: "Im2col" bottom: "x" top: "c" convolution_param { '
                        'kernel_size: 1 kernel_size: 2 kernel_size: 2 pad: 0 pad: 1 pad: 1 }',
                        (2, 3, 1, 4, 5))
    top3 = layer3(leaf(x.reshape(2, 3, 1, 4, 5))).detach().numpy()
    assert np.abs(top3.reshape(top.shape) - top).max() <= EXACT


def test_kernel_longer_than_the_input_by_less_than_a_stride():
    # Caffe's output size truncates toward zero: one window position, zeros past the end
    x = np.arange(2 * 2 * 3, dtype=np.float64).reshape(1, 2, 2, 3) + 1
    layer = make_layer('name: "i" type: "Im2col" bottom: "x" top: "c" convolution_param { '
                       'kernel_size: 3 stride: 2 }', x.shape)
    xl = leaf(x)
    top = layer(xl)
    assert tuple(top.shape) == (1, 2 * 3 * 3, 1, 1)
    want = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 0))).reshape(1, -1, 1, 1)
    assert np.abs(top.detach().numpy() - want).max() <= EXACT
    top.sum().backward()
    assert np.array_equal(xl.grad.numpy(), np.ones_like(x))   # each value copied once
    layer3 = make_layer('name: "i" type: "Im2col" bottom: "x" top: "c" convolution_param { '
                        'kernel_size: 1 kernel_size: 3 kernel_size: 3 stride: 2 }',
                        (1, 2, 1, 2, 3))
    top3 = layer3(leaf(x.reshape(1, 2, 1, 2, 3))).detach().numpy()
    assert np.abs(top3.reshape(want.shape) - want).max() <= EXACT


def test_backward_adds_overlaps_like_col2im():
    x = leaf(np.random.default_rng(0).normal(size=(1, 2, 5, 5)))
    layer = make_layer('name: "i" type: "Im2col" bottom: "x" top: "c" convolution_param { '
                       'kernel_size: 3 stride: 2 pad: 1 dilation: 2 }', x.shape)
    top = layer(x)
    g = torch.ones_like(top)
    top.backward(g)
    want = F.fold(g.reshape(1, 18, -1), (5, 5), 3, dilation=2, padding=1, stride=2)
    # float64 sums of ones: exact
    assert (x.grad - want).abs().max().item() <= EXACT


def test_bad_geometry_names_the_layer():
    with pytest.raises(NetError, match=r"layer 'i'.*kernel_h/kernel_w can only be used for 2-D"):
        make_layer('name: "i" type: "Im2col" convolution_param { kernel_h: 2 kernel_w: 2 }',
                   (1, 2, 3, 4, 5))
    with pytest.raises(NetError, match=r"layer 'i'.*kernel must be given once or 2 times"):
        make_layer('name: "i" type: "Im2col" convolution_param { kernel_size: 1 '
                   'kernel_size: 2 kernel_size: 3 }', (1, 2, 4, 5))
    with pytest.raises(NetError, match=r"layer 'i'.*kernel size is not specified"):
        make_layer('name: "i" type: "Im2col" convolution_param { stride: 1 }', (1, 2, 4, 5))
    with pytest.raises(NetError, match=r"layer 'i'.*kernel extent exceeds"):
        make_layer('name: "i" type: "Im2col" convolution_param { kernel_size: 7 }', (1, 2, 4, 5))
    with pytest.raises(NetError, match=r"layer 'i'.*at least one spatial axis"):
        make_layer('name: "i" type: "Im2col" convolution_param { kernel_size: 1 axis: -1 }',
                   (1, 2, 4))
