"""imresize against real MATLAB output and against a plain reference implementation."""
import importlib
import math

import numpy as np
import pytest
import scipy.io

from matlab_ports import PortError, im2double, imread, imresize, rgb2ycbcr, to_class, ycbcr2rgb
from matlab_ports.imresize import contributions
from matlab_ports.resize_kernels import _triangle
from tests.conftest import fixture_path
from tests.matlab_ports import reference_imresize as ref

imresize_module = importlib.import_module("matlab_ports.imresize")


def same_bits(a, b):
    """Equal shapes, dtypes and bytes (NaN payloads and signed zeros included)."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def imwrite_rule(x):
    """imwrite of double data: clamp to [0, 1], uint8(255*x) (round half away from zero)."""
    return to_class(np.clip(x, 0.0, 1.0) * 255.0, "uint8")


@pytest.mark.parametrize("tag,scale", [("down_x2", 1 / 2), ("down_x3", 1 / 3), ("down_x4", 1 / 4),
                                       ("up_x2", 2), ("up_x3", 3)])
def test_baboon_matches_matlab_r2017b(tag, scale):
    folder = fixture_path("matlab-reference", "imresize_R2017b")
    src = imread(folder / "baboon.png")
    assert src.dtype == np.uint8 and src.shape == (480, 492, 3)
    got = imwrite_rule(imresize(im2double(src), scale, method="bicubic"))
    full = folder / f"baboon_{tag}_matlab.png"
    if full.exists():
        expected = imread(full)
    else:   # the committed copy keeps corner and centre blocks of the large upscaled files
        got, expected = matlab_blocks(got, folder / f"baboon_{tag}_matlab.blocks.npz",
                                      (round(480 * scale), round(492 * scale)))
    assert got.shape == expected.shape
    # Tolerance: none. 0 differing pixels after MATLAB's imwrite rounding.
    assert int(np.count_nonzero(got != expected)) == 0


def matlab_blocks(ours, path, full_shape):
    """(our blocks, MATLAB's blocks) at the offsets stored in ``path`` (make_lean.py)."""
    assert ours.shape[:2] == tuple(full_shape)
    with np.load(path) as f:
        offsets, blocks = f["offsets"], f["blocks"]
    size = blocks.shape[1]
    return np.stack([ours[r:r + size, c:c + size] for r, c in offsets]), blocks


def bird_im_b(d, ours):
    """(ours, MATLAB's im_b): whole when the file has it, else the committed blocks."""
    if "im_b" in d:
        return ours, d["im_b"]
    return matlab_blocks(ours, fixture_path("matlab-reference", "lapsrn_set5_2017",
                                            "bird_GT.im_b.blocks.npz"), (288, 288))


def test_lapsrn_bird_matches_matlab_exactly():
    d = scipy.io.loadmat(fixture_path("matlab-reference", "lapsrn_set5_2017", "bird_GT.mat"))
    ycc = rgb2ycbcr(im2double(d["im_gt"]))
    im_l_ycbcr = imresize(ycc, 1 / 4)
    im_b_ycbcr = imresize(im_l_ycbcr, 4)
    # Tolerance: none (max abs diff 0); the README states these are reproducible bit for bit.
    assert np.array_equal(ycc[:, :, 0] * 255, d["im_gt_y"])
    assert np.array_equal(im_l_ycbcr, d["im_l_ycbcr"])
    assert np.array_equal(im_l_ycbcr[:, :, 0] * 255, d["im_l_y"])
    assert np.array_equal(im_b_ycbcr[:, :, 0] * 255, d["im_b_y"])
    # Tolerance: none; im_b = ycbcr2rgb of the x4 result, scaled by 255.
    assert np.array_equal(*bird_im_b(d, ycbcr2rgb(im_b_ycbcr) * 255))


def test_lapsrn_would_fail_with_clamped_borders():
    """The mirrored border rule is what MATLAB R2017b uses; the old clamp rule is detectable."""
    d = scipy.io.loadmat(fixture_path("matlab-reference", "lapsrn_set5_2017", "bird_GT.mat"))
    ycc = rgb2ycbcr(im2double(d["im_gt"]))
    # Tolerance: none; any differing value shows the clamp rule is not what MATLAB used.
    assert not np.array_equal(imresize(ycc, 1 / 4, border="replicate"), d["im_l_ycbcr"])


def _cases():
    rng = np.random.default_rng(20170426)
    cases = []
    shapes = [(17, 23), (31, 12, 3), (9, 40, 2, 2), (64, 48, 3), (5, 7)]
    methods = ["bicubic", "bilinear", "nearest", "box", "lanczos2", "lanczos3"]
    scales = [1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.37, 1.7, 1, (0.5, 2.0), (3.0, 0.25)]
    for i in range(44):
        shape = shapes[i % len(shapes)]
        method = methods[i % len(methods)]
        scale = scales[i % len(scales)]
        dtype = [np.float64, np.float32, np.uint8, np.uint16, np.int16, np.bool_][i % 6]
        cases.append((shape, method, scale, dtype, bool(i % 4 == 3), int(rng.integers(1 << 30))))
    return cases


def _random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)
    return (rng.random(shape) * 1.4 - 0.2).astype(dtype)


@pytest.mark.parametrize("shape,method,scale,dtype,fortran,seed", _cases())
def test_engine_matches_plain_reference(shape, method, scale, dtype, fortran, seed):
    a = _random(shape, dtype, seed)
    if fortran:
        a = np.asfortranarray(a)
    sc = (scale, scale) if np.ndim(scale) == 0 else tuple(scale)
    size = (math.ceil(sc[0] * shape[0]), math.ceil(sc[1] * shape[1]))
    expected = ref.imresize(a, sc, size, method)
    got = imresize(a, scale, method=method)
    # Tolerance: none; same operations in the same order give the same bits.
    assert same_bits(got, expected)


@pytest.mark.parametrize("border", ["mirror", "replicate"])
@pytest.mark.parametrize("aa", [True, False])
def test_engine_matches_reference_border_and_antialiasing(border, aa):
    a = _random((40, 33, 3), np.float64, 7)
    for scale in (1 / 3, 0.6, 2.5):
        sc = (scale, scale)
        size = (math.ceil(scale * 40), math.ceil(scale * 33))
        expected = ref.imresize(a, sc, size, "bicubic", aa=aa, border=border)
        got = imresize(a, scale, antialiasing=aa, border=border)
        # Tolerance: none (bit-identical).
        assert same_bits(got, expected)


def test_weights_match_reference_bit_for_bit():
    for (n, m, s) in [(480, 160, 1 / 3), (492, 1476, 3.0), (100, 37, 0.37), (50, 85, 1.7),
                      (20, 240, 12.0), (240, 20, 1 / 12)]:
        for method in ("bicubic", "lanczos3", "bilinear"):
            w, ind = contributions(n, m, s, method)
            rw, rind = ref.contributions(n, m, s, method, True)
            # Tolerance: none.
            assert same_bits(w, rw) and np.array_equal(ind, rind)


def test_scalar_python_arithmetic_agrees():
    """A few output pixels recomputed with Python floats (no fused multiply-add possible)."""
    a = _random((30, 26), np.float64, 3)
    out = imresize(a, 1 / 3)
    wr, ir = contributions(30, 10, 1 / 3)
    wc, ic = contributions(26, 9, 1 / 3)
    for (i, j) in [(0, 0), (4, 5), (9, 8)]:
        cols = {}
        for jj in ic[j]:
            s = 0.0
            for w, ii in zip(wr[i], ir[i]):
                s = s + w * float(a[ii, jj])
            cols[jj] = s
        s = 0.0
        for w, jj in zip(wc[j], ic[j]):
            s = s + w * cols[jj]
        # Tolerance: none.
        assert out[i, j] == s


def test_output_size_rules():
    a = np.zeros((480, 492))
    # Tolerance: none; sizes are integers from ceil() of IEEE products, as in MATLAB.
    assert imresize(a, 1 / 3).shape == (160, 164)
    assert imresize(a, 0.3).shape == (math.ceil(0.3 * 480), math.ceil(0.3 * 492))
    assert imresize(a, output_size=(100, None)).shape == (100, math.ceil(100 * 492 / 480))
    assert imresize(a, output_size=(None, 50)).shape == (math.ceil(50 * 480 / 492), 50)
    assert imresize(a, output_size=(10.2, 20)).shape == (11, 20)
    assert imresize(np.zeros((4, 5, 3, 2)), 2).shape == (8, 10, 3, 2)


def test_output_size_scale_is_size_ratio():
    a = _random((19, 23, 3), np.float64, 11)
    got = imresize(a, output_size=(228, 276))
    expected = ref.imresize(a, (228 / 19, 276 / 23), (228, 276), "bicubic")
    # Tolerance: none.
    assert same_bits(got, expected)
    got = imresize(a, output_size=(40, None))
    s = 40 / 19
    expected = ref.imresize(a, (s, s), (40, math.ceil(40 * 23 / 19)), "bicubic")
    assert same_bits(got, expected)


def test_smaller_scale_dimension_goes_first():
    a = _random((30, 30), np.uint8, 5)
    got = imresize(a, output_size=(60, 12))
    expected = ref.imresize(a, (2.0, 0.4), (60, 12), "bicubic")
    # Tolerance: none; uint8 rounding after the first pass makes the order visible.
    assert same_bits(got, expected)
    wrong_order = ref.resize_dim(ref.resize_dim(a, 0, *ref.contributions(30, 60, 2.0, "bicubic",
                                                                          True), np.uint8),
                                 1, *ref.contributions(30, 12, 0.4, "bicubic", True), np.uint8)
    assert not np.array_equal(got, wrong_order)


def test_layouts_threads_and_order_give_same_bits(monkeypatch):
    monkeypatch.setattr(importlib.import_module("matlab_ports.resize_passes"), "_MIN_PARALLEL", 0)
    a = _random((120, 130, 3), np.float64, 9)
    base = imresize(a, 2)
    for variant in (np.asfortranarray(a), a[::-1, ::-1][::-1, ::-1], a.transpose(2, 0, 1).copy()
                    .transpose(1, 2, 0)):
        assert same_bits(imresize(variant, 2), base)
    assert same_bits(imresize(a, 2, order="C"), base)
    assert imresize(a, 2, order="C").flags.c_contiguous
    assert imresize(a, 2, order="F").flags.f_contiguous
    saved = imresize_module.get_num_threads()
    try:
        for n in (1, 2, 3):
            imresize_module.set_num_threads(n)
            # Tolerance: none; threads split work by output rows only.
            assert same_bits(imresize(a, 2), base)
            assert same_bits(imresize(a, 1 / 3), imresize(a, 1 / 3))
    finally:
        imresize_module.set_num_threads(saved)


def test_result_is_not_a_scratch_buffer():
    a = _random((50, 60), np.float64, 1)
    first = imresize(a, 2)
    keep = first.copy()
    imresize(a * 2, 2)
    imresize(a, 1 / 3)
    # Tolerance: none; a returned array must not change afterwards.
    assert same_bits(first, keep)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_propagate_like_matlab():
    a = _random((20, 20), np.float64, 2)
    a[5, 5] = np.nan
    a[10, 3] = np.inf
    for s in (2, 1 / 2, 3):
        expected = ref.imresize(a, (s, s), (math.ceil(20 * s),) * 2, "bicubic")
        # Tolerance: none; NaN from 0*Inf included, as MATLAB computes it.
        assert same_bits(imresize(a, s), expected)


def test_integer_classes_round_half_away_and_saturate():
    a = np.array([[0, 255, 0, 255], [255, 0, 255, 0]] * 4, np.uint8)
    out = imresize(a, 2)
    assert out.dtype == np.uint8
    expected = ref.imresize(a, (2.0, 2.0), (16, 8), "bicubic")
    # Tolerance: none; rounding after each pass is part of the reference.
    assert same_bits(out, expected)
    assert out.min() == 0 and out.max() == 255


def test_logical_is_resized_as_uint8_and_thresholded():
    a = _random((25, 21), np.bool_, 4)
    out = imresize(a, 1.5)
    assert out.dtype == np.bool_
    # Tolerance: none.
    assert same_bits(out, ref.imresize(a, (1.5, 1.5), (38, 32), "bicubic"))


def test_nearest_is_an_index_copy():
    a = _random((7, 9, 3), np.float32, 8)
    out = imresize(a, 2, method="nearest")
    # Tolerance: none; nearest neighbour copies values.
    assert np.array_equal(out, a.repeat(2, axis=0).repeat(2, axis=1))
    assert same_bits(imresize(a, 1), a)


def test_custom_kernel_pair():
    a = _random((15, 15), np.float64, 6)
    got = imresize(a, 2, method=(lambda x: _triangle(x), 2.0))
    # Tolerance: none; same kernel through the uncached path.
    assert same_bits(got, imresize(a, 2, method="bilinear"))


def test_method_abbreviations():
    a = _random((10, 10), np.float64, 6)
    # Tolerance: none.
    assert same_bits(imresize(a, 2, method="bic"), imresize(a, 2))
    with pytest.raises(PortError, match="ambiguous"):
        imresize(a, 2, method="b")


@pytest.mark.parametrize("kwargs,match", [
    (dict(), "scale or output_size"),
    (dict(scale=0), "scale"),
    (dict(scale=-2), "scale"),
    (dict(scale=float("nan")), "scale"),
    (dict(scale=(1, 2, 3)), "scale"),
    (dict(output_size=(None, None)), "output_size"),
    (dict(output_size=(0, 4)), r"output_size\[0\]"),
    (dict(scale=2, method="bogus"), "method"),
    (dict(scale=2, border="wrap"), "border"),
    (dict(scale=2, order="X"), "order"),
])
def test_bad_arguments_raise_port_error(kwargs, match):
    with pytest.raises(PortError, match=match):
        imresize(np.zeros((4, 4)), **kwargs)


def test_bad_arrays_raise_port_error():
    with pytest.raises(PortError, match="A"):
        imresize(np.zeros(5), 2)
    with pytest.raises(PortError, match="A"):
        imresize(np.zeros((0, 3)), 2)
    with pytest.raises(PortError, match="complex"):
        imresize(np.zeros((3, 3), complex), 2)
    with pytest.raises(PortError, match="A"):
        imresize("not an image", 2)


@pytest.mark.slow
def test_engine_matches_reference_random_sweep():
    """Many random sizes, scales, methods and classes (run with -m slow)."""
    rng = np.random.default_rng(99)
    methods = list(ref.KERNELS)
    dtypes = [np.float64, np.float32, np.uint8, np.uint16, np.int8, np.bool_]
    for _ in range(400):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60))) + \
            tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3))))
        if rng.random() < 0.5:
            scale = float(rng.choice([1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 1 / 5, 5, 1 / 8, 8]))
        else:
            scale = float(np.exp(rng.uniform(-2, 2)))
        if rng.random() < 0.3:
            size = (int(rng.integers(1, 90)), int(rng.integers(1, 90)))
            sc = (size[0] / shape[0], size[1] / shape[1])
            kwargs = dict(output_size=size)
        else:
            sc = (scale, scale)
            size = (math.ceil(scale * shape[0]), math.ceil(scale * shape[1]))
            kwargs = dict(scale=scale)
        method = methods[int(rng.integers(len(methods)))]
        aa = [None, True, False][int(rng.integers(3))]
        border = ["mirror", "replicate"][int(rng.integers(2))]
        a = _random(shape, dtypes[int(rng.integers(len(dtypes)))], int(rng.integers(1 << 30)))
        if rng.random() < 0.3:
            a = np.asfortranarray(a)
        expected = ref.imresize(a, sc, size, method, aa=aa, border=border)
        got = imresize(a, method=method, antialiasing=aa, border=border, **kwargs)
        # Tolerance: none (bit-identical).
        assert same_bits(got, expected), (shape, kwargs, method, aa, border, a.dtype)
