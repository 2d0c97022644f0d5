"""Pooling against Caffe 1.0 (layerzoo_a_conv: MAX/AVE with pad, ceil-mode partial windows,
the padded-window rule on both axes, global, stride > kernel; the CNN+D nets' pools, whose last
window is partial) and against a NumPy transcription of Caffe's CPU loop, MAX mask included."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import (caffe_pool_reference, caffe_pool_size,
                                                      input_net, leaf, make_layer, report)
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# MAX copies values; AVE sums at most 16 float64 values and divides once.
F64_TOL = 1e-12
# The mask holds integer indices: exact.
EXACT = 0.0


@pytest.mark.parametrize("fixture", ["layerzoo_a_conv", "cnnd_trainval_test", "deploy_cnnd"])
def test_pooling_matches_caffe(fixture):
    fwd, bwd = report(f"Pooling ({fixture})", check_layer_type(fixture, "Pooling"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


CASES = [
    # (spec, kernel, stride, pad, global)
    ("kernel_size: 3 stride: 2", (3, 3), (2, 2), (0, 0), False),          # ceil: partial window
    ("kernel_size: 3 stride: 2 pad: 1", (3, 3), (2, 2), (1, 1), False),
    ("kernel_size: 4 stride: 3 pad: 2", (4, 4), (3, 3), (2, 2), False),   # last window dropped
    ("kernel_size: 2 stride: 3", (2, 2), (3, 3), (0, 0), False),          # stride > kernel
    ("kernel_size: 2 stride: 3 pad: 1", (2, 2), (3, 3), (1, 1), False),
    ("kernel_h: 3 kernel_w: 2 stride_h: 1 stride_w: 2 pad_h: 1 pad_w: 0",
     (3, 2), (1, 2), (1, 0), False),
    ("global_pooling: true", None, (1, 1), (0, 0), True),
]


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("spec, kernel, stride, pad, is_global", CASES)
def test_against_caffes_loop(method, spec, kernel, stride, pad, is_global):
    x = np.random.default_rng(20).normal(size=(2, 2, 10, 13))
    kernel = (10, 13) if is_global else kernel
    want, mask = caffe_pool_reference(x, kernel, stride, pad, method)
    tops = 'top: "y" top: "m"' if method == "MAX" else 'top: "y"'
    layer = make_layer(f'name: "p" type: "Pooling" bottom: "x" {tops} '
                       f'pooling_param {{ pool: {method} {spec} }}', x.shape)
    out = layer(leaf(x))
    top = out[0] if method == "MAX" else out
    assert np.abs(top.detach().numpy() - want).max() <= F64_TOL
    if method == "MAX":
        assert np.abs(out[1].detach().numpy() - mask).max() <= EXACT


def test_mask_marks_the_first_maximum_and_gradient_goes_there():
    # Ties inside a window: Caffe keeps the first maximum in row-major order (strict >).
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [1.0, 1.0, 1.0]]]])
    layer = make_layer('name: "p" type: "Pooling" bottom: "x" top: "y" top: "m" '
                       'pooling_param { pool: MAX kernel_size: 2 stride: 1 }', x.shape)
    t = leaf(x)
    top, mask = layer(t)
    want, want_mask = caffe_pool_reference(x, (2, 2), (1, 1), (0, 0))
    assert np.abs(mask.detach().numpy() - want_mask).max() <= EXACT
    assert want_mask.ravel().tolist() == [1, 1, 3, 5]
    top.backward(torch.ones_like(top))
    grad = np.zeros(9)
    np.add.at(grad, want_mask.ravel().astype(int), 1.0)
    assert np.abs(t.grad.numpy().ravel() - grad).max() <= EXACT


def test_output_size_rule_in_a_net():
    net = input_net({"x": (1, 1, 17, 15)}, 'layer { name: "p" type: "Pooling" bottom: "x" '
                    'top: "y" pooling_param { pool: MAX kernel_size: 3 stride: 3 pad: 1 } }')
    assert net.blob_shape("y") == (1, 1, caffe_pool_size(17, 3, 3, 1), caffe_pool_size(15, 3, 3, 1))
    # H: ceil((17 + 2 - 3) / 3) + 1 = 7, but window 7 would start at 18 >= 17 + 1: 6.
    # W: ceil((15 + 2 - 3) / 3) + 1 = 6, window 6 starts at 15 < 15 + 1: kept.
    assert net.blob_shape("y") == (1, 1, 6, 6)


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'po'.*pad \(3, 3\) must be smaller than the "
                                       r"kernel \(3, 3\)"):
        make_layer('name: "po" type: "Pooling" bottom: "x" top: "y" '
                   'pooling_param { kernel_size: 3 pad: 3 }', (1, 1, 8, 8))
    with pytest.raises(NetError, match=r"layer 'po'.*only MAX pooling has a second"):
        make_layer('name: "po" type: "Pooling" bottom: "x" top: "y" top: "m" '
                   'pooling_param { pool: AVE kernel_size: 2 }', (1, 1, 8, 8))
    with pytest.raises(NetError, match=r"layer 'po'.*global_pooling the kernel size"):
        make_layer('name: "po" type: "Pooling" bottom: "x" top: "y" '
                   'pooling_param { global_pooling: true kernel_size: 2 }', (1, 1, 8, 8))


@pytest.mark.parametrize("shape,k,s,out", [((3, 5, 92, 92), 2, 2, 46), ((2, 4, 17, 17), 4, 4, 5),
                                           ((2, 3, 15, 15), 2, 2, 8), ((1, 2, 9, 11), 3, 2, None)])
def test_training_max_pool_kernel_matches_torch(shape, k, s, out):
    """The C forward of training (Caffe's loop) gives torch's values and indices: forward and
    the gradient bit for bit, ties included (values on a coarse grid; the first maximum wins
    in both)."""
    from caffe_compat.layers import pooling
    if pooling._pool_kernel is None:
        pytest.skip("the _pool_kernel extension is not built")
    g = torch.Generator().manual_seed(sum(shape))
    x = (torch.randint(-4, 5, shape, generator=g).float() / 4).requires_grad_()
    ref = torch.nn.functional.max_pool2d(x, k, s, ceil_mode=True)
    oh, ow = ref.shape[2:]
    ours = pooling.CaffeMaxPool2d.apply(x, (k, k), (s, s), (0, 0), True, (oh, ow))
    assert torch.equal(ours, ref)
    up = torch.randn(ref.shape, generator=g)
    a, = torch.autograd.grad(ref, x, up)
    b, = torch.autograd.grad(ours, x, up)
    assert torch.equal(a, b)


def test_ceil_mode_matches_opencv():
    """OpenCV's fork's ``ceil_mode`` (committed OpenCV 4 fixture: MAX and AVE, with and without
    padding, false and true). Exact for MAX; AVE divides float32 sums: 1e-5 of the scale."""
    from tests.caffe_compat.opencv_fixtures import cases, compare
    errors = compare.check_case("Pooling ceil_mode", cases.pooling_ceil_mode_case())
    compare.report("Pooling ceil_mode vs OpenCV 4", errors)
    assert max(errors.values()) <= compare.DENSE_TOL


def test_ceil_mode_false_rounds_down_and_must_agree_with_round_mode():
    spec = "pool: MAX kernel_size: 3 stride: 2 pad: 1"
    net = input_net({"x": (1, 1, 112, 112)}, 'layer { name: "p" type: "Pooling" bottom: "x" '
                    f'top: "y" pooling_param {{ {spec} ceil_mode: false }} }}')
    assert net.blob_shape("y") == (1, 1, 56, 56)         # Caffe's ceil rule gives 57 x 57
    with pytest.raises(NetError, match="layer 'p'.*ceil_mode: false contradicts round_mode: "
                                       "CEIL"):
        make_layer(f'name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param {{ {spec} '
                   'ceil_mode: false round_mode: CEIL }', (1, 1, 9, 9))
