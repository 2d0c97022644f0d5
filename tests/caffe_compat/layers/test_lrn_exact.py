"""ACROSS_CHANNELS LRN equal to real Caffe 1.0's bit for bit (fixtures/make_lrn_exact.py):
forward and backward through pycaffe as the fixture was written, the layer under autograd,
its explicit calls, and the C kernel itself with one and two threads. Planes of 35, 63, 64,
66 and 169 pixels put pixels on both sides of OpenBLAS's saxpy split (a fused multiply-add
below (H * W) & -32, a product and a sum above it); several images, local_size 3, 5 and 7
(wider than the channels), k 1 and 2; and the ACROSS layer of the struct zoo fixture, run on
the bottom Caffe computed for it."""
import os

import numpy as np
import pytest
import torch

import caffe
from caffe_compat.kernels import _lrn_kernel
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.reference import run_fixture

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "lrn_exact.npz")
with np.load(FIXTURE) as _f:
    REF = {k: _f[k] for k in _f.files}
CASES = sorted({k.split("/")[0] for k in REF if not k.startswith("meta/")})


def _spec(case):
    text = str(REF[f"{case}/net"])
    return text[text.index("lrn_param {") + len("lrn_param {"):text.rindex("}")].rsplit("}", 1)[0]


def _layer(case):
    x = REF[f"{case}/x"]
    return make_layer(f'name: "lrn" type: "LRN" bottom: "x" top: "y" lrn_param {{ {_spec(case)} }}',
                      x.shape)


def test_cases_cover_both_sides_of_the_saxpy_split():
    pixels = {REF[f"{c}/x"].shape[2] * REF[f"{c}/x"].shape[3] for c in CASES}
    assert any(p % 32 for p in pixels) and any(p % 32 == 0 for p in pixels)
    assert any(p > 64 for p in pixels)


@pytest.mark.parametrize("case", CASES)
def test_pycaffe_forward_and_backward_are_caffes_bits(case, tmp_path):
    path = tmp_path / f"{case}.prototxt"
    path.write_text(str(REF[f"{case}/net"]))
    caffe.set_mode_cpu()
    net = caffe.Net(str(path), caffe.TEST)
    net.blobs["x"].data[...] = REF[f"{case}/x"]
    net.forward()
    np.testing.assert_array_equal(net.blobs["y"].data, REF[f"{case}/y"])
    net.blobs["y"].diff[...] = REF[f"{case}/dy"]
    net.backward()
    np.testing.assert_array_equal(net.blobs["x"].diff, REF[f"{case}/dx"])


@pytest.mark.parametrize("case", CASES)
def test_layer_autograd_and_explicit_calls_are_caffes_bits(case):
    layer = _layer(case)
    x = torch.from_numpy(REF[f"{case}/x"]).requires_grad_(True)
    y = layer(x)
    np.testing.assert_array_equal(y.detach().numpy(), REF[f"{case}/y"])
    dx, = torch.autograd.grad(y, x, torch.from_numpy(REF[f"{case}/dy"]))
    np.testing.assert_array_equal(dx.numpy(), REF[f"{case}/dx"])
    with torch.no_grad():
        np.testing.assert_array_equal(layer(x.detach()).numpy(), REF[f"{case}/y"])
    (top,), saved = layer.explicit_forward(x.detach())
    np.testing.assert_array_equal(top.numpy(), REF[f"{case}/y"])
    (gx,), _ = layer.explicit_backward(saved, [torch.from_numpy(REF[f"{case}/dy"])], [True], [])
    np.testing.assert_array_equal(gx.numpy(), REF[f"{case}/dx"])


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_kernel_threads_do_not_change_a_bit(threads):
    layer = _layer("alexnet_13x13")
    x = np.ascontiguousarray(REF["alexnet_13x13/x"])
    scale, powed, y, dx = (np.empty_like(x) for _ in range(4))
    _lrn_kernel.across_forward(x, scale, powed, y, layer.size, layer.alpha_over_size,
                               -layer.beta32, layer.k32, threads)
    np.testing.assert_array_equal(y, REF["alexnet_13x13/y"])
    _lrn_kernel.across_backward(x, y, scale, powed, REF["alexnet_13x13/dy"], dx, layer.size,
                                layer.cache_ratio, threads)
    np.testing.assert_array_equal(dx, REF["alexnet_13x13/dx"])


def test_struct_zoo_layer_from_caffes_own_bottom():
    run = run_fixture("layerzoo_a_struct")
    node = next(n for n in run.layers_of_type("LRN") if n.name == "lrn_across")
    x = torch.from_numpy(np.ascontiguousarray(run.ref_blobs[node.bottoms[0]]))
    lp = node.param.lrn_param
    layer = make_layer(f'name: "lrn_across" type: "LRN" bottom: "x" top: "y" lrn_param {{ '
                       f'local_size: {lp.local_size} alpha: {lp.alpha} beta: {lp.beta} '
                       f'k: {lp.k} }}', tuple(x.shape))
    x.requires_grad_(True)
    y = layer(x)
    np.testing.assert_array_equal(y.detach().numpy(), run.ref_blobs[node.tops[0]])
    dx, = torch.autograd.grad(y, x, torch.from_numpy(run.ref_diffs[node.tops[0]]))
    np.testing.assert_array_equal(dx.numpy(), run.ref_diffs[node.bottoms[0]])


def test_kernel_refuses_bad_buffers():
    x = np.zeros((1, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="float32"):
        _lrn_kernel.across_forward(x.astype(np.float64), x, x.copy(), x.copy(), 3, 0.1,
                                   -0.75, 1.0, 1)
    with pytest.raises(ValueError, match="odd"):
        _lrn_kernel.across_forward(x, x.copy(), x.copy(), x.copy(), 4, 0.1, -0.75, 1.0, 1)
