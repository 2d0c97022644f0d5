"""The compiled imresize kernel (matlab_ports/_resize_kernel.c) against the numpy path.

Every comparison is exact: same shape, class, strides and bytes, signed zeros and infinities
included, NaN wherever the numpy path has NaN. Each case runs the numpy path
(set_use_kernel(False)) and the kernel with every vector instruction set this machine has
(scalar, SSE2, AVX, AVX-512F) and 1 to 3 threads.

The one thing not compared is which NaN bit pattern a NaN result carries when two different
NaNs meet in one addition (say the input's NaN and the NaN of inf + -inf): IEEE 754 leaves the
choice open, x86 takes one operand's, and numpy's own loops take the first operand's in their
vector body and the second's in some scalar remainders, so in the numpy path it depends on the
element's position in numpy's loop (see test_numpy_path_nan_choice_depends_on_position).
"""
import contextlib
import importlib
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matlab_ports import PortError, im2double, imread, imresize
from tests.conftest import SHARED

imr = importlib.import_module("matlab_ports.imresize")
compiled = importlib.import_module("matlab_ports.resize_compiled")   # the kernel's settings
kernel = imr._resize_kernel
REPO = pathlib.Path(__file__).resolve().parents[2]

needs_kernel = pytest.mark.skipif(kernel is None, reason="matlab_ports._resize_kernel not built")

CLASSES = [np.float64, np.float32, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
           np.bool_]
METHODS = ["nearest", "bilinear", "bicubic", "box", "triangle", "cubic", "lanczos2", "lanczos3"]
LAYOUTS = ["C", "F", "reversed", "strided", "planar"]


def _bytes(a):
    a = np.ascontiguousarray(a)
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), np.array(np.nan, a.dtype), a)  # one NaN pattern (see above)
    return a.tobytes()


def same(a, b):
    """Equal shapes, dtypes, memory layouts and bytes (NaN patterns aside, see above)."""
    return (a.shape == b.shape and a.dtype == b.dtype and a.strides == b.strides
            and _bytes(a) == _bytes(b))


def test_numpy_path_nan_choice_depends_on_position():
    """Why NaN patterns are not compared: numpy's in-place add of two different NaNs keeps the
    first operand's NaN in its vector loop and, in some builds, the second's in the scalar
    remainder (or for single elements), so no fixed rule reproduces it."""
    n1 = np.array([0x7FF8000000000001], np.uint64).view(np.float64)
    n2 = np.array([0xFFF8000000000002], np.uint64).view(np.float64)
    seen = set()
    for size in range(1, 40):
        acc = np.repeat(n1, size)
        np.add(acc, np.repeat(n2, size), out=acc)
        assert np.all(np.isnan(acc))
        seen |= set(acc.view(np.uint64).tolist())
    assert seen <= {0x7FF8000000000001, 0xFFF8000000000002}


@contextlib.contextmanager
def kernel_settings(use=True, level=None, threads=None, min_parallel=None):
    """Kernel on/off, instruction set, threads; min_parallel=0 makes every pass use all the
    threads (also on a busy machine, where imresize would otherwise stay on one)."""
    saved = (imr.get_use_kernel(), kernel.simd_level() if kernel else None,
             imr.get_num_threads(), compiled._KERNEL_MIN_PARALLEL, compiled._KERNEL_IDLE_CHECK)
    try:
        imr.set_use_kernel(use)
        if level is not None:
            kernel.set_simd_level(level)
        if threads is not None:
            imr.set_num_threads(threads)
        if min_parallel is not None:
            compiled._KERNEL_MIN_PARALLEL = min_parallel
            compiled._KERNEL_IDLE_CHECK = False
        yield
    finally:
        imr.set_use_kernel(saved[0])
        if kernel is not None:
            kernel.set_simd_level(saved[1])
        imr.set_num_threads(saved[2])
        compiled._KERNEL_MIN_PARALLEL = saved[3]
        compiled._KERNEL_IDLE_CHECK = saved[4]


def numpy_path(a, **kwargs):
    with kernel_settings(use=False):
        return imresize(a, **kwargs)


def assert_kernel_matches(a, threads=(1, 2, 3), **kwargs):
    """The numpy path's result, then each instruction set and thread count against it."""
    expected = numpy_path(a, **kwargs)
    for level in kernel.simd_levels():
        for n in threads:
            with kernel_settings(level=level, threads=n, min_parallel=0 if n > 1 else None):
                got = imresize(a, **kwargs)
            # Tolerance: none (bit-identical, same layout).
            assert same(got, expected), (level, n, a.shape, a.dtype, a.strides, kwargs)
    return expected


def random_image(rng, shape, dtype, special=False):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        a = rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)
        if special and a.size > 2:
            a.flat[:2] = (info.min, info.max)
        return a
    a = rng.random(shape) * 1.4 - 0.2
    if special and a.size > 4:
        a.flat[rng.integers(a.size, size=4)] = [np.nan, np.inf, -np.inf, -0.0]
    return a.astype(dtype)


def with_layout(a, layout):
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "reversed":
        return np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    if layout == "strided":
        big = np.zeros((a.shape[0], 2 * a.shape[1]) + a.shape[2:], a.dtype)
        big[:, ::2] = a
        return big[:, ::2]
    if layout == "planar" and a.ndim >= 3:
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, -1, 0)), 0, -1)
    return a


# ---------------------------------------------------------------------------------------------
# The module and its build


def test_kernel_is_built_and_in_use():
    """The kernel is built in place by ``pip install -e .``; without it the numpy path runs
    (see test_numpy_fallback_when_kernel_is_missing)."""
    if kernel is None:
        pytest.skip("matlab_ports._resize_kernel not built (numpy path in use)")
    assert imr.kernel_available() and imr.get_use_kernel()
    assert kernel.simd_levels()[0] == "scalar"
    assert kernel.simd_level() == kernel.simd_levels()[-1]


@needs_kernel
def test_built_module_has_no_fused_multiply_add():
    """Built with -ffp-contract=off: the disassembly holds no FMA instruction (x86 FMA3 and
    AVX-512F vfmadd/vfmsub/vfnmadd/vfnmsub, FMA4 vfmaddpd..., ARM fmadd/fmla...), although the
    AVX-512F variant could use them, while the vector code is there."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump not available")
    text = subprocess.run([objdump, "-d", kernel.__file__], check=True, capture_output=True,
                          text=True).stdout
    mnemonics = re.findall(r"^\s*[0-9a-f]+:\s+(?:[0-9a-f]{2} )+\s*([a-z][a-z0-9.]*)", text,
                           re.M)
    assert mnemonics, "no instructions found in the disassembly"
    fma = sorted({m for m in mnemonics if re.match(r"v?f(n?m(add|sub|la|ls)|madd|msub)", m)})
    assert fma == []
    if os.uname().machine == "x86_64":
        assert {"mulpd", "addpd", "vmulpd", "vaddpd"} <= set(mnemonics)


@needs_kernel
def test_simd_level_selection():
    levels = kernel.simd_levels()
    saved = kernel.simd_level()
    try:
        for level in levels:
            kernel.set_simd_level(level)
            assert kernel.simd_level() == level
        with pytest.raises(ValueError):
            kernel.set_simd_level("avx1024")
    finally:
        kernel.set_simd_level(saved)


def test_use_kernel_switch():
    previous = imr.set_use_kernel(False)
    try:
        assert imr.get_use_kernel() is False
        assert imr.set_use_kernel(True) is False
        assert imr.get_use_kernel() is imr.kernel_available()
    finally:
        imr.set_use_kernel(previous)


def test_numpy_fallback_when_kernel_is_missing(tmp_path):
    """A fresh interpreter that cannot import the compiled module: imresize loads, uses the numpy
    path, and gives the bits the kernel gives here."""
    rng = np.random.default_rng(5)
    a = rng.random((37, 41, 3))
    np.save(tmp_path / "a.npy", a)
    code = (
        "import sys; sys.modules['matlab_ports._resize_kernel'] = None\n"
        "import importlib, numpy as np\n"
        "imr = importlib.import_module('matlab_ports.imresize')\n"
        "assert not imr.kernel_available() and not imr.get_use_kernel()\n"
        "imr.set_use_kernel(True)\n"
        "assert not imr.get_use_kernel()\n"
        f"a = np.load({str(tmp_path / 'a.npy')!r})\n"
        f"np.save({str(tmp_path / 'down.npy')!r}, imr.imresize(a, 1 / 3))\n"
        f"np.save({str(tmp_path / 'up.npy')!r}, imr.imresize(a, 2.5, method='lanczos3'))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env)
    # Tolerance: none. (np.save keeps the values, not the strides: compare values and dtypes.)
    for name, kwargs in (("down", dict(scale=1 / 3)), ("up", dict(scale=2.5, method="lanczos3"))):
        fallback = np.load(tmp_path / f"{name}.npy")
        here = imresize(a, **kwargs)
        assert fallback.dtype == here.dtype and fallback.shape == here.shape
        assert np.ascontiguousarray(here).tobytes() == np.ascontiguousarray(fallback).tobytes()


# ---------------------------------------------------------------------------------------------
# Same bits as the numpy path


def _baboon():
    path = SHARED / "matlab-reference" / "imresize_R2017b" / "baboon.png"
    if path.exists():
        return im2double(imread(path))
    return np.random.default_rng(0).random((480, 492, 3))


@needs_kernel
@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3])
def test_benchmark_cases_both_paths(scale):
    """The five benchmark resizes of baboon (double, 480x492x3)."""
    assert_kernel_matches(_baboon(), threads=(1, 2), scale=scale)


@needs_kernel
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", CLASSES)
def test_classes_and_layouts(dtype, layout):
    rng = np.random.default_rng(100 * CLASSES.index(dtype) + LAYOUTS.index(layout))
    a = with_layout(random_image(rng, (29, 34, 3), dtype, special=True), layout)
    for kwargs in (dict(scale=0.45), dict(scale=2.2), dict(scale=(0.5, 3.0)),
                   dict(scale=(3.0, 0.5)), dict(output_size=(40, 17), method="lanczos3")):
        assert_kernel_matches(a, threads=(1, 2), **kwargs)


@needs_kernel
@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_resizes_match_numpy_path(data):
    """Random shapes (up to 4-D), classes, layouts, scales or output sizes, methods,
    antialiasing and border rules."""
    draw = data.draw
    shape = (draw(st.integers(1, 36)), draw(st.integers(1, 36)))
    shape += tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    dtype = draw(st.sampled_from(CLASSES))
    layout = draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = with_layout(random_image(rng, shape, dtype, special=draw(st.booleans())), layout)
    how = draw(st.sampled_from(["scale", "pair", "size", "size_none"]))
    scale = st.one_of(st.sampled_from([1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 1 / 5, 5, 1, 1.5, 0.75]),
                      st.floats(0.1, 6.0))
    if how == "scale":
        kwargs = dict(scale=draw(scale))
    elif how == "pair":
        kwargs = dict(scale=(draw(scale), draw(scale)))
    elif how == "size":
        kwargs = dict(output_size=(draw(st.integers(1, 80)), draw(st.integers(1, 80))))
    else:
        kwargs = dict(output_size=draw(st.sampled_from([(None, 1), (1, None)])))
        kwargs["output_size"] = tuple(None if v is None else draw(st.integers(1, 80))
                                      for v in kwargs["output_size"])
    try:
        imr._size_and_scale(a.shape, kwargs.get("scale"), kwargs.get("output_size"))
    except PortError:
        return
    kwargs.update(method=draw(st.sampled_from(METHODS)),
                  antialiasing=draw(st.sampled_from([None, True, False])),
                  border=draw(st.sampled_from(["mirror", "replicate"])))
    assert_kernel_matches(a, **kwargs)


@needs_kernel
def test_signed_zero_from_the_first_product():
    """All products -0.0 (input -0.0, weights >= 0): the sum is -0.0 because it starts from the
    first product, as in the numpy path (0.0 + -0.0 would be +0.0)."""
    a = np.full((6, 7, 2), -0.0)
    for kwargs in (dict(scale=3, method="bilinear"), dict(scale=(0.5, 2), method="triangle"),
                   dict(scale=2.5, method="bilinear")):
        out = assert_kernel_matches(a, **kwargs)
        assert np.all(np.signbit(out))


@needs_kernel
def test_nan_inf_and_saturation():
    rng = np.random.default_rng(11)
    a = rng.random((30, 31, 3)) * 600 - 300
    a[3, 4, 0] = np.nan
    a[10, 11, 1] = np.inf
    a[20, 2, 2] = -np.inf
    a[7, 7, :] = 254.5
    for kwargs in (dict(scale=2), dict(scale=1 / 3), dict(scale=(0.4, 2.6), method="lanczos2")):
        assert_kernel_matches(a, **kwargs)
        with np.errstate(invalid="ignore"):
            for cls in (np.uint8, np.int16):
                info = np.iinfo(cls)
                b = np.clip(np.nan_to_num(a), info.min, info.max).astype(cls)
                assert_kernel_matches(b, **kwargs)


@needs_kernel
def test_threads_split_work_deterministically():
    """Large enough for many units; 1..4 threads (results cannot depend on the split)."""
    rng = np.random.default_rng(3)
    a = rng.random((150, 170, 3))
    for kwargs in (dict(scale=3), dict(scale=1 / 3), dict(scale=(2, 0.5)),
                   dict(scale=2, method="lanczos3")):
        assert_kernel_matches(a, threads=(1, 2, 3, 4), **kwargs)


@needs_kernel
def test_concurrent_callers(monkeypatch):
    """The kernel releases the GIL; several Python threads at once get their own results (and
    their own result memory, reused or not)."""
    monkeypatch.setattr(compiled, "_RESULT_REUSE_BYTES", 0)
    rng = np.random.default_rng(4)
    images = [rng.random((90 + 7 * i, 80 + 5 * i, 3)) for i in range(4)]
    scales = [3, 1 / 3, 2, 0.7]
    expected = [numpy_path(im, scale=s) for im, s in zip(images, scales)]
    results = [[] for _ in images]

    def work(i):
        for _ in range(8):
            got = imresize(images[i], scales[i])
            results[i].append(same(got, expected[i]))
            del got  # its memory may serve another thread's next result

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Tolerance: none.
    assert results == [[True] * 8] * len(images)


@needs_kernel
def test_result_memory_is_reused_only_once_dropped(monkeypatch):
    """Large double results come from blocks that are reused once no array refers to them: a
    result (or any view of it) that is still alive is never written again."""
    monkeypatch.setattr(compiled, "_RESULT_REUSE_BYTES", 0)  # every double result, to keep it small
    imr.release_buffers()
    rng = np.random.default_rng(12)
    a, b = rng.random((40, 30, 3)), rng.random((40, 30, 3))
    first = imresize(a, 3)
    keep = first.copy(order="K")
    view = imresize(a, 2.5)[5:9]
    keep_view = view.copy(order="K")
    assert type(first.base.base).__name__ == "Block" and first.flags.writeable
    for _ in range(3):
        other = imresize(b, 3)
        assert not np.shares_memory(other, first) and not np.shares_memory(other, view)
        imresize(b, 2.5)
    # Tolerance: none.
    assert same(first, keep) and np.array_equal(view, keep_view)
    assert same(first, numpy_path(a, scale=3))
    del first, other
    kept = kernel.kept_results()[0]
    assert kept >= 1
    again = imresize(b, 3)
    assert kernel.kept_results()[0] == kept - 1  # a dropped block, reused
    assert same(again, numpy_path(b, scale=3))
    imr.release_buffers()
    assert kernel.kept_results() == (0, 0)
    with pytest.raises(ValueError):
        kernel.result_buffer(0)


def test_unaligned_input_takes_the_numpy_path():
    raw = np.zeros(8 * 24 * 20 * 3 + 1, np.uint8)[1:]
    a = raw.view(np.float64).reshape(24, 20, 3)
    assert not a.flags.aligned
    a[...] = np.random.default_rng(6).random(a.shape)
    aligned = a.copy()
    # Tolerance: none.
    assert same(imresize(a, 2.5), imresize(aligned, 2.5))


# ---------------------------------------------------------------------------------------------
# The C functions check their arguments (they are private, but must never touch bad memory)


@needs_kernel
def test_resize_pass_rejects_bad_arguments():
    w, ind = imr.contributions(10, 20, 2.0)
    src = np.zeros((1, 10, 4))
    dst = np.zeros((1, 20, 4))
    kernel.resize_pass(src, dst, w, ind, 1)
    with pytest.raises(ValueError):
        kernel.resize_pass(src, np.zeros((1, 21, 4)), w, ind, 1)
    with pytest.raises(ValueError):
        kernel.resize_pass(src, np.zeros((2, 20, 4)), w, ind, 1)
    with pytest.raises(IndexError):
        kernel.resize_pass(np.zeros((1, 9, 4)), dst, w, ind, 1)
    bad = ind.copy()
    bad[3, 1] = -1
    with pytest.raises(IndexError):
        kernel.resize_pass(src, dst, w, bad, 1)
    with pytest.raises(TypeError):
        kernel.resize_pass(src.astype(np.int64), dst, w, ind, 1)
    with pytest.raises(TypeError):
        kernel.resize_pass(src, dst.astype(np.float32), w, ind, 1)
    with pytest.raises(TypeError):
        kernel.resize_pass(src, dst, w, ind.astype(np.int32), 1)
    with pytest.raises(ValueError):
        kernel.resize_pass(src[0], dst, w, ind, 1)
    with pytest.raises((ValueError, BufferError)):
        kernel.resize_pass(src, dst, np.asfortranarray(np.zeros((20, 4))), ind, 1)
    ro = dst.copy()
    ro.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        kernel.resize_pass(src, ro, w, ind, 1)


@needs_kernel
def test_resize_fused_rejects_bad_arguments():
    w1, i1 = imr.contributions(10, 20, 2.0)
    w2, i2 = imr.contributions(6, 18, 3.0)
    src = np.zeros((2, 6, 10))
    dst = np.zeros((2, 18, 20))
    kernel.resize_fused(src, dst, w1, i1, w2, i2, 2)
    with pytest.raises(ValueError):
        kernel.resize_fused(src, np.zeros((2, 20, 18)).transpose(0, 2, 1), w1, i1, w2, i2, 1)
    with pytest.raises(ValueError):
        kernel.resize_fused(src, np.zeros((2, 18, 21)), w1, i1, w2, i2, 1)
    with pytest.raises(IndexError):
        kernel.resize_fused(np.zeros((2, 5, 10)), dst, w1, i1, w2, i2, 1)
    with pytest.raises(IndexError):
        kernel.resize_fused(np.zeros((2, 6, 9)), dst, w1, i1, w2, i2, 1)


@needs_kernel
def test_resize_pass_equals_plain_loops():
    """The C pass on arbitrary strides against a Python loop with Python floats."""
    rng = np.random.default_rng(8)
    w, ind = imr.contributions(13, 29, 29 / 13, "lanczos3")
    src = rng.random((3, 13, 5)).transpose(2, 1, 0)[:, :, ::-1]  # (5, 13, 3), odd strides
    for level in kernel.simd_levels():
        with kernel_settings(level=level):
            dst = np.empty((5, 3, 29)).transpose(0, 2, 1)
            kernel.resize_pass(src, dst, w, ind, 2)
        for a in range(5):
            for o in range(29):
                for m in range(3):
                    acc = float(w[o, 0]) * float(src[a, ind[o, 0], m])
                    for k in range(1, w.shape[1]):
                        acc = acc + float(w[o, k]) * float(src[a, ind[o, k], m])
                    # Tolerance: none.
                    assert dst[a, o, m] == acc or (math.isnan(acc) and math.isnan(dst[a, o, m]))
