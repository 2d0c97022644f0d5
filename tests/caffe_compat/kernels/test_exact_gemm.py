"""caffe_compat.kernels.blas_order / _exact_gemm: forward products in Caffe's (OpenBLAS's) summation order.

Two independent checks: (1) Caffe's own outputs: every Convolution and InnerProduct layer of
six nets (the CNN+D and SR-FCN nets and two layer zoos), run from the bottom blob Caffe consumed,
gives Caffe's top bit for bit (tolerance 0: the point of the kernel is to reproduce each
rounding). OpenBLAS chooses its sgemm kernels by CPU and ``blas_order`` follows one family, the
AVX-512 (SkylakeX) kernels; the records (tests/fixtures/caffe-reference/exact-gemm-avx512) were
written by Caffe on an AVX-512 machine and say so, and the test checks that family against the
one ``blas_order`` names. Fixtures written by Caffe on CPUs with other kernels (AVX2 machines
use OpenBLAS's Haswell kernels, which sum in another order) are compared at the forward
tolerance by the layer tests, not here. (2) A NumPy transcription of the summation rules
(float64 products and sums rounded to float32, which is a correctly rounded fused
multiply-add for float32 operands) on shapes that exercise every rule: K blocks of 320 and the
halved remainder, the small-matrix kernels, padding, stride, dilation, groups.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.kernels import blas_order, caffe_products
from tests.conftest import FIXTURES, fixture_path

pytestmark = pytest.mark.skipif(not blas_order.available(),
                                reason="the _exact_gemm extension is not built")

RECORDS = FIXTURES / "caffe-reference" / "exact-gemm-avx512" / "records.json"
INDEX = json.loads(RECORDS.read_text())


def test_records_come_from_the_emulated_kernel_family():
    assert INDEX["kernel_family"] == caffe_products.KERNEL_FAMILY


def run_record(rec, data):
    """Our net of one Input and the record's layer (and the in-place layers after it), fed
    Caffe's bottom; returns (ours, Caffe's) for the outputs the record keeps."""
    shape = [int(d) for d in data["bottom_shape"]]
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { '
            + " ".join(f"dim: {d}" for d in shape) + " } } }\nlayer {\n"
            + rec["layer_param"] + "}\n"
            + "".join("layer {\n" + t + "}\n" for t in rec["in_place"]))
    net = Net(text, phase="test")
    x = np.zeros(shape, np.float32)
    b = data["bottom"]
    x[tuple(slice(0, n) for n in b.shape)] = b      # a window: the rest of the bottom is zero
    w = np.zeros([int(d) for d in data["weight_shape"]], np.float32)
    rows = data["rows"] if "rows" in data.files else None
    transpose = 'transpose: true' in rec["layer_param"]
    if rows is None:
        w[...] = data["weight"]
    elif transpose:
        w[:, rows] = data["weight"]
    else:
        w[rows] = data["weight"]
    params = net.params[rec["layer"]]
    with torch.no_grad():
        params[0].copy_(torch.from_numpy(w))
        if "bias" in data.files:
            params[1].copy_(torch.from_numpy(data["bias"]).reshape(params[1].shape))
    net.forward(x=x)
    ours = net.blobs[net.graph.layers[1].tops[0]].data.detach().numpy()
    ref = data["top"]
    if rows is None:
        return ours, ref
    if rec["type"] == "Convolution":
        return ours[:1, rows, :ref.shape[2], :ref.shape[3]], ref
    return ours.reshape(ref.shape[0], -1)[:, rows], ref


@pytest.mark.parametrize("rec", INDEX["records"], ids=lambda r: f"{r['fixture']}/{r['layer']}")
def test_bit_identical_to_caffe_outputs(rec, monkeypatch):
    monkeypatch.setattr(blas_order, "INFERENCE", True)
    with np.load(fixture_path("caffe-reference", "exact-gemm-avx512", rec["file"])) as data:
        ours, ref = run_record(rec, data)
    assert ours.shape == ref.shape
    differing = int(np.count_nonzero(ours != ref))
    print(f"[parity] {rec['fixture']}/{rec['layer']}: {ref.size} outputs, {differing} differ")
    assert differing == 0, f"{rec['fixture']}/{rec['layer']}: {differing} of {ref.size} differ"


# ---------------------------------------------------------------- NumPy transcription
def _fma(a, b, c):
    return (np.float64(a) * np.float64(b) + np.float64(c)).astype(np.float32)


def _blocks(k, blocked):
    out, ls = [], 0
    while ls < k:
        n = k - ls
        if blocked:
            n = 320 if n >= 640 else ((n + 1) // 2 if n > 320 else n)
        out.append((ls, ls + n))
        ls += n
    return out


def _tree4(v):
    s = [(v[4 * b] + v[4 * b + 1]) + (v[4 * b + 2] + v[4 * b + 3]) for b in range(4)]
    return (s[0] + s[1]) + (s[2] + s[3])


def _tree_halves(v):
    t3 = [v[i + 8] + v[i] for i in range(8)]
    t6 = [t3[i + 4] + t3[i] for i in range(4)]
    return (t6[0] + t6[2]) + (t6[1] + t6[3])


def _lanes(a_row, b_col):
    v = np.zeros(16, np.float32)
    for k in range(len(a_row)):
        v[k & 15] = _fma(a_row[k], b_col[k], v[k & 15])
    return [np.float32(x) for x in v]


def reference_product(a, b, blocked, lanes_cols=()):
    """C = A B (A (M, K), B (K, N)) by the rules, vectorised over outputs."""
    m, k = a.shape
    n = b.shape[1]
    c = None
    for k0, k1 in _blocks(k, blocked):
        acc = np.zeros((m, n), np.float32)
        for kk in range(k0, k1):
            acc = _fma(a[:, kk:kk + 1], b[kk:kk + 1, :], acc)
        c = acc if c is None else (c + acc).astype(np.float32)
    for j in lanes_cols:
        for i in range(m):
            v = _lanes(a[i], b[:, j])
            four = j < (n & ~3) or i < (m & ~3)
            c[i, j] = _tree4(v) if four else _tree_halves(v)
    return c


def reference_conv(x, w, stride, pad, dilation, group):
    n, ch, h, wd = x.shape
    o, cg, kh, kw = w.shape
    cols = torch.nn.functional.unfold(torch.from_numpy(x), (kh, kw), dilation, pad, stride)
    oh = (h + 2 * pad[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    og = o // group
    kdim = cg * kh * kw
    blocked = og * oh * ow * kdim > caffe_products.SMALL_MNK
    lanes = range((oh * ow) & ~15, oh * ow) if (not blocked and kdim >= 32
                                                   and 1 <= (oh * ow) % 16 <= 8) else ()
    y = np.empty((n, o, oh * ow), np.float32)
    for i in range(n):
        col = cols[i].numpy()
        for g in range(group):
            a = w[g * og:(g + 1) * og].reshape(og, -1)
            y[i, g * og:(g + 1) * og] = reference_product(
                a, col[g * kdim:(g + 1) * kdim], blocked, lanes)
    return y.reshape(n, o, oh, ow)


CONV_CASES = [
    # (N, C, H, W), (O, C/g, kh, kw), stride, pad, dilation, group
    ((2, 1, 20, 20), (8, 1, 5, 5), (1, 1), (0, 0), (1, 1), 1),      # K = 25
    ((1, 26, 9, 9), (3, 26, 5, 5), (1, 1), (0, 0), (1, 1), 1),      # K = 650: 320 + 165 + 165
    ((1, 40, 9, 9), (50, 40, 5, 5), (1, 1), (0, 0), (1, 1), 1),     # K = 1000, blocked
    ((2, 4, 11, 13), (6, 2, 3, 3), (2, 1), (1, 2), (1, 2), 2),      # geometry, groups
    ((1, 8, 7, 7), (5, 8, 3, 3), (1, 1), (0, 0), (1, 1), 1),        # small: 25 = 16 + 9 pixels
    ((1, 8, 6, 7), (5, 8, 3, 3), (1, 1), (0, 0), (1, 1), 1),        # small, lanes for 4 pixels
    ((1, 5, 23, 22), (140, 5, 5, 5), (3, 3), (2, 3), (1, 1), 1),    # stride 3 into the pads;
                                                                     # rows beyond one chunk
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_follows_the_rules(case):
    xs, ws, stride, pad, dilation, group = case
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    ours = blas_order.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride, pad, dilation,
                             group).numpy()
    ref = reference_conv(x, w, stride, pad, dilation, group)
    assert np.array_equal(ours, ref)


@pytest.mark.parametrize("m,k,n,transpose", [
    (4, 288, 3, False),     # small transposed kernel: lanes and trees
    (7, 100, 5, False),     # the halving tree for the last rows and columns
    (16, 1000, 300, False),  # blocked: 320 + 340 halved
    (4, 168, 5, True),      # small non-transposed kernel, lanes for 5 columns
    (3, 20, 4, True),       # K < 32: sequential
    (64, 700, 40, True),    # blocked
])
def test_inner_product_follows_the_rules(m, k, n, transpose):
    rng = np.random.default_rng(m * k + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n) if transpose else (n, k)).astype(np.float32)
    ours = blas_order.inner_product(torch.from_numpy(x), torch.from_numpy(w), transpose).numpy()
    wk = w if transpose else w.T
    small = m * n * k <= caffe_products.SMALL_MNK
    if transpose:
        lanes = range(n & ~15, n) if small and k >= 32 and 1 <= n % 16 <= 8 else ()
        ref = reference_product(x, wk, not small, lanes)
    elif small and m * n <= 1200 and k >= 32:
        # OpenBLAS's TN kernel: its rows are the outputs, its columns the batch
        ref = reference_product(w, x.T, False, range(m)).T
    else:
        ref = reference_product(x, wk, True)
    assert np.array_equal(ours, ref)


def test_threads_do_not_change_results():
    """Each output is computed by one thread in one fixed order: 1, 2 or 4 threads (more than
    this machine's cores: the crowded count of caffe_compat.parallel.threads), the same bits."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 64, 23, 23)).astype(np.float32)
    w = rng.standard_normal((70, 64, 5, 5)).astype(np.float32)
    old = torch.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 4):
            torch.set_num_threads(t)
            outs.append(blas_order.conv2d(torch.from_numpy(x), torch.from_numpy(w), (1, 1),
                                          (0, 0), (1, 1), 1).numpy())
    finally:
        torch.set_num_threads(old)
    assert all(np.array_equal(outs[0], o) for o in outs[1:])



def test_one_image_on_one_thread_or_several_the_same_bits():
    """One image whose rows span three chunks: one thread packs the image's columns once for
    all of them, several threads once per chunk (tolerance 0: the packing moves no value's
    sum); padding on both sides with strides 1 and 2."""
    from caffe_compat.kernels import _exact_gemm
    rng = np.random.default_rng(6)
    for stride, pad in ((1, 1), (2, 2)):
        x = rng.standard_normal((1, 24, 13, 13)).astype(np.float32)
        w = rng.standard_normal((300, 24, 3, 3)).astype(np.float32)
        oh = (13 + 2 * pad - 3) // stride + 1
        outs = []
        for t in (1, 2, 4):
            y = np.empty((1, 300, oh, oh), np.float32)
            _exact_gemm.conv2d(x, w, y, stride, stride, pad, pad, 1, 1, 1, True, t)
            outs.append(y)
        assert all(np.array_equal(outs[0], o) for o in outs[1:])
        ref = reference_conv(x, w, (stride, stride), (pad, pad), (1, 1), 1)
        assert np.array_equal(outs[0], ref)

# Products whose column counts leave every edge of the micro-kernels: no whole panel (1, 15),
# one panel and a part (17), pairs of panels and a single one (47, 80), pairs only (64), a
# chunk's last part (200); row counts off the 6-row panels (7, 130, 140: two row chunks).
KERNEL_PRODUCTS = [(7, 330, 1), (130, 700, 15), (6, 64, 17), (140, 650, 47), (13, 321, 64),
                   (12, 40, 80), (5, 960, 200)]
# the small TN kernel's (outputs, items, K): whole 16-value steps only, a remainder of 1 and of
# 15 values after them, LeNet's ip2 (500: a remainder of 4)
TN_PRODUCTS = [(3, 5, 32), (7, 4, 33), (2, 9, 47), (10, 64, 500)]
KERNEL_CODE = """
import sys, numpy as np, torch
from caffe_compat.kernels import blas_order as b
data = dict(np.load(sys.argv[1]))
out = {}
for name, a in data.items():
    if name.startswith("A"):
        i = name[1:]
        c = np.empty((a.shape[0], data["B" + i].shape[1]), np.float32)
        b._exact_gemm.gemm(a, data["B" + i], c, True, 2)
        out["C" + i] = c
        # the small-matrix form (K one block; the last N % 16 columns through the lanes)
        c = np.empty((a.shape[0], data["B" + i].shape[1]), np.float32)
        b._exact_gemm.gemm(a, data["B" + i], c, False, 2)
        out["U" + i] = c
    if name.startswith("W"):          # the small TN kernel: C[j, i] = sum_k W[i, k] X[j, k]
        i = name[1:]
        c = np.empty((data["X" + i].shape[0], a.shape[0]), np.float32)
        b._exact_gemm.gemm_tn_small(a, data["X" + i], c)
        out["T" + i] = c
x, w = torch.from_numpy(data["x"]), torch.from_numpy(data["w"])
out["y"] = b.conv2d(x, w, (1, 1), (1, 1), (1, 1), 1).numpy()
dy = torch.from_numpy(data["dy"])
gx, gw = b.conv2d_grads(x, w, dy, (1, 1), (1, 1), (1, 1), 1)
out["gx"], out["gw"] = gx.numpy(), gw.numpy()
np.savez(sys.argv[2], **out)
print(b.kernel_name())
"""


@pytest.mark.slow        # every micro kernel in a process of its own (about 13 s on 2 cores)
def test_every_micro_kernel_gives_the_same_bits(tmp_path):
    """The micro-kernels differ in lane width and tile shape only, never in an output's own
    sequence of fused multiply-adds and block sums: the AVX-512 one (two B panels at once,
    where the processor has it), the AVX2 one and the portable fmaf one (capped by
    CAFFE_COMPAT_EXACT_GEMM_KERNEL at import) give the same bits for products with every kind
    of edge, a convolution and its gradients, and the small TN kernel's sixteen lanes (8-wide
    fused multiply-adds with AVX2, one fmaf a term otherwise). Tolerance 0: the same
    operations."""
    rng = np.random.default_rng(6)
    data = {}
    for i, (m, k, n) in enumerate(KERNEL_PRODUCTS):
        data[f"A{i}"] = rng.standard_normal((m, k)).astype(np.float32)
        data[f"B{i}"] = rng.standard_normal((k, n)).astype(np.float32)
    for i, (m, n, k) in enumerate(TN_PRODUCTS):
        data[f"W{i}"] = rng.standard_normal((m, k)).astype(np.float32)
        data[f"X{i}"] = rng.standard_normal((n, k)).astype(np.float32)
    data["x"] = rng.standard_normal((3, 20, 23, 23)).astype(np.float32)
    data["w"] = rng.standard_normal((70, 20, 3, 3)).astype(np.float32)
    data["dy"] = rng.standard_normal((3, 70, 23, 23)).astype(np.float32)
    np.savez(tmp_path / "in.npz", **data)
    results, names = [], []
    for cap in ("default", "avx2", "scalar"):
        env = dict(os.environ)
        env.pop("CAFFE_COMPAT_EXACT_GEMM_PORTABLE", None)
        if cap != "default":
            env["CAFFE_COMPAT_EXACT_GEMM_KERNEL"] = cap
        else:
            env.pop("CAFFE_COMPAT_EXACT_GEMM_KERNEL", None)
        out = tmp_path / f"{cap}.npz"
        run = subprocess.run([sys.executable, "-c", KERNEL_CODE, str(tmp_path / "in.npz"),
                              str(out)], env=env, check=True, capture_output=True, text=True)
        names.append(run.stdout.strip())
        results.append(dict(np.load(out)))
    assert names[2] == "scalar-fmaf"
    assert names[1] in ("avx2-fma", "scalar-fmaf")
    assert names[0] in ("avx512-fma", "avx2-fma", "scalar-fmaf")
    for other in results[1:]:
        for key, value in results[0].items():
            assert np.array_equal(value, other[key]), key
    # the portable switch of earlier releases still selects the fmaf kernel
    env = dict(os.environ, CAFFE_COMPAT_EXACT_GEMM_PORTABLE="1")
    env.pop("CAFFE_COMPAT_EXACT_GEMM_KERNEL", None)
    run = subprocess.run([sys.executable, "-c", KERNEL_CODE, str(tmp_path / "in.npz"),
                          str(tmp_path / "p.npz")], env=env, check=True, capture_output=True,
                         text=True)
    assert run.stdout.strip() == "scalar-fmaf"


def test_layers_use_it_for_cpu_float32_and_not_for_float64():
    from caffe_compat.layers import convolution
    calls = []
    original = blas_order.conv2d

    def spy(*a, **k):
        calls.append(1)
        return original(*a, **k)
    blas_order.conv2d = spy
    try:
        from caffe_compat.io.prototxt import parse_net
        from caffe_compat import Net
        net = Net(parse_net('layer { name: "in" type: "Input" top: "x" input_param { shape '
                            '{ dim: 2 dim: 3 dim: 8 dim: 8 } } } layer { name: "c" type: '
                            '"Convolution" bottom: "x" top: "y" convolution_param { num_output: '
                            '4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }',
                            "<net>"), phase="test")
        net.forward(x=np.ones((2, 3, 8, 8), np.float32))
        assert calls
        calls.clear()
        net.double()
        net.forward(x=np.ones((2, 3, 8, 8)))
        assert not calls
    finally:
        blas_order.conv2d = original
    assert convolution.CaffeOrderConv2d is not None
