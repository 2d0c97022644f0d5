"""rgb2ycbcr / ycbcr2rgb: MATLAB's coefficients, order of accumulation and rounding."""
from fractions import Fraction

import numpy as np
import pytest
import scipy.io

from matlab_ports import PortError, im2double, rgb2ycbcr, ycbcr2rgb
from matlab_ports.color import rgb2ycbcr_coefficients, ycbcr2rgb_coefficients
from tests.conftest import fixture_path


def matlab_round(x):
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


def all_colours():
    v = np.arange(1 << 24, dtype=np.uint32)
    return np.stack([v >> 16, (v >> 8) & 255, v & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)


def test_known_values():
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], np.uint8)
    out = rgb2ycbcr(px)
    # Tolerance: none; integer outputs of exact MATLAB arithmetic.
    assert out.tolist() == [[[16, 128, 128], [235, 128, 128], [81, 90, 240]]]
    assert out.dtype == np.uint8


def test_coefficients_follow_matlab_scaling():
    # Tolerance: none; each coefficient is one IEEE product, as MATLAB forms it.
    t8, o8 = rgb2ycbcr_coefficients("uint8")
    assert t8[0][0] == (1 / 255) * 65.481 and o8 == (16.0, 128.0, 128.0)
    t16, o16 = rgb2ycbcr_coefficients("uint16")
    assert t16[2][1] == (257 / 65535) * -93.786 and o16[0] == 257 * 16.0
    tf, of = rgb2ycbcr_coefficients("double")
    assert tf[1][2] == (1 / 255) * 112.0 and of[1] == (1 / 255) * 128.0
    ti, oi = ycbcr2rgb_coefficients("uint8")
    assert ti[0][0] == 255 * float.fromhex("0x1.2b404ad012b41p-8")
    assert rgb2ycbcr_coefficients("single") == rgb2ycbcr_coefficients("double")


def _fma(x, y, z):
    """Correctly rounded x * y + z (exact rational arithmetic, one rounding)."""
    from fractions import Fraction
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def _lapack_inverse(t):
    """LAPACK's unblocked getrf + getri (getf2, trti2, getri's column sweep) on a small
    matrix, with fused multiply-adds in the dtrmv and dgemv updates as the optimized BLAS
    kernels under MATLAB's inv run them. Written out so that the check does not depend on the
    BLAS build of the machine running the tests."""
    n = len(t)
    a = np.array(t, dtype=np.float64)
    ipiv = []
    for j in range(n):                                   # getf2
        p = j + int(np.argmax(np.abs(a[j:, j])))
        ipiv.append(p)
        a[[j, p]] = a[[p, j]]
        r = 1.0 / a[j, j]
        a[j + 1:, j] *= r
        for jj in range(j + 1, n):
            for i in range(j + 1, n):
                a[i, jj] = a[i, jj] - a[i, j] * a[j, jj]
    for j in range(n):                                   # trti2 (upper, non-unit)
        a[j, j] = 1.0 / a[j, j]
        ajj = -a[j, j]
        x = a[:j, j].copy()
        for jj in range(j):                              # dtrmv
            for i in range(jj):
                x[i] = _fma(x[jj], a[i, jj], x[i])
            x[jj] = x[jj] * a[jj, jj]
        a[:j, j] = x * ajj
    work = np.zeros(n)
    for j in range(n - 1, -1, -1):                       # getri: inv(A) L = inv(U)
        work[j + 1:] = a[j + 1:, j]
        a[j + 1:, j] = 0.0
        for jj in range(j + 1, n):                       # dgemv
            for i in range(n):
                a[i, j] = _fma(-work[jj], a[i, jj], a[i, j])
    for j in range(n - 2, -1, -1):
        a[:, [j, ipiv[j]]] = a[:, [ipiv[j], j]]
    return a


def test_inverse_matrix_is_lapack_inverse():
    t = [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]
    ti, _ = ycbcr2rgb_coefficients("double")
    # Tolerance: none; getrf/getri (MATLAB's inv) in LAPACK's operation order reproduces the
    # stored bits (a library's inverse may differ in the last bit with its BLAS kernels).
    assert np.array_equal(np.array(ti) / 255.0, _lapack_inverse(t))


def test_all_16m_uint8_colours_and_ties(record_property):
    img = all_colours()
    out = rgb2ycbcr(img)
    t, off = rgb2ycbcr_coefficients("uint8")
    r, g, b = (img[:, :, k].astype(np.float64) for k in range(3))
    ties_total = 0
    report = []
    for p in range(3):
        y = ((t[p][0] * r + t[p][1] * g) + t[p][2] * b) + off[p]
        expected = np.clip(matlab_round(y), 0, 255).astype(np.uint8)
        # Tolerance: none; every one of the 16.7M colours equals MATLAB's double evaluation.
        assert np.array_equal(out[:, :, p], expected)
        near = np.flatnonzero(np.abs((y - np.floor(y)) - 0.5).ravel() < 1e-9)
        ties_total += near.size
        record_property(f"near_ties_channel{p}", int(near.size))
        exact_ties = 0
        for i in near.tolist():
            rr, gg, bb = (int(c) for c in img.reshape(-1, 3)[i])
            s = t[p][0] * rr
            s = s + t[p][1] * gg
            s = s + t[p][2] * bb
            s = s + off[p]
            want = int(np.floor(s)) + (1 if s - np.floor(s) >= 0.5 else 0)
            # Tolerance: none; scalar Python doubles in MATLAB's order decide each near-tie.
            assert out.reshape(-1, 3)[i, p] == want
            coeff = [Fraction(str(c)) for c in ((65.481, 128.553, 24.966), (-37.797, -74.203, 112),
                                                (112, -93.786, -18.214))[p]]
            exact = (coeff[0] * rr + coeff[1] * gg + coeff[2] * bb) / 255 + (16, 128, 128)[p]
            exact_ties += exact.denominator == 2
        record_property(f"exact_ties_channel{p}", exact_ties)
        report.append(f"channel {p}: {near.size} near ties, {exact_ties} exact in real arithmetic")
    print(f"near ties (|frac-0.5|<1e-9): {ties_total} ({'; '.join(report)})")
    assert ties_total == 206


def test_float32_evaluations_get_colours_wrong(record_property):
    img = all_colours()
    y = rgb2ycbcr(img)[:, :, 0]
    f32 = img.astype(np.float32) / np.float32(255.0)
    basicsr = np.dot(f32, [65.481, 128.553, 24.966]) + 16.0
    basicsr = basicsr.round().astype(np.uint8)
    w32 = np.array([65.481, 128.553, 24.966], np.float32)
    pure32 = ((f32[..., 0] * w32[0] + f32[..., 1] * w32[1]) + f32[..., 2] * w32[2]) + np.float32(16)
    pure32 = matlab_round(pure32.astype(np.float64)).astype(np.uint8)
    wrong_basicsr = int(np.count_nonzero(basicsr != y))
    wrong_pure32 = int(np.count_nonzero(pure32 != y))
    record_property("basicsr_style_wrong_Y", wrong_basicsr)
    record_property("float32_wrong_Y", wrong_pure32)
    print(f"Y wrong: BasicSR-style {wrong_basicsr}, float32 {wrong_pure32} of 16777216")
    assert wrong_basicsr > 0 and wrong_pure32 > 0
    # Tolerance: 1 grey level; float32 paths only differ on near-ties.
    assert np.abs(basicsr.astype(int) - y).max() <= 1
    assert np.abs(pure32.astype(int) - y).max() <= 1


def test_single_is_double_rounded_to_single():
    rng = np.random.default_rng(1)
    x = rng.random((40, 50, 3))
    # Tolerance: none; imlincomb computes single input in double, then rounds to single.
    assert np.array_equal(rgb2ycbcr(x.astype(np.float32)),
                          rgb2ycbcr(x.astype(np.float32).astype(np.float64)).astype(np.float32))


def test_uint16_scaling():
    px = np.array([[[65535, 65535, 65535], [0, 0, 0]]], np.uint16)
    # Tolerance: none; uint16 results are the uint8 levels times 257.
    assert rgb2ycbcr(px).tolist() == [[[235 * 257, 128 * 257, 128 * 257], [16 * 257, 128 * 257,
                                                                           128 * 257]]]


def test_gt_y_of_lapsrn_file_double_path():
    d = scipy.io.loadmat(fixture_path("matlab-reference", "lapsrn_set5_2017", "bird_GT.mat"))
    # Tolerance: none.
    assert np.array_equal(rgb2ycbcr(im2double(d["im_gt"]))[:, :, 0] * 255, d["im_gt_y"])


def test_uint8_round_trip_error_is_small():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    back = ycbcr2rgb(rgb2ycbcr(rgb))
    # Tolerance: 2 levels; two 8-bit roundings and the range compression of BT.601.
    assert np.abs(back.astype(int) - rgb).max() <= 2


def test_colormap_input_and_clipping():
    cmap = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.2, 0.4, 0.6]])
    y = rgb2ycbcr(cmap)
    assert y.shape == (3, 3)
    # Tolerance: none; a colormap is converted like an Mx1x3 image.
    assert np.array_equal(y, rgb2ycbcr(cmap.reshape(3, 1, 3)).reshape(3, 3))
    odd = np.array([[[np.nan, 0.5, 0.5], [1.0, 0.0, 1.0]]])
    back = ycbcr2rgb(odd)
    assert back.min() >= 0 and back.max() <= 1 and not np.isnan(back).any()


@pytest.mark.parametrize("bad,match", [
    (np.zeros((4, 4)), "HxWx3"),
    (np.zeros((4, 4, 4)), "HxWx3"),
    (np.zeros((2, 2, 3), np.int32), "int32"),
    (np.zeros((0, 3)), "non-empty"),
])
def test_bad_input(bad, match):
    with pytest.raises(PortError, match=match):
        rgb2ycbcr(bad)
    with pytest.raises(PortError, match=match):
        ycbcr2rgb(bad)
