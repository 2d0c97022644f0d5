"""MATLAB ``imresize`` (Image Processing Toolbox, R2016a and later), bit-exact.

MATLAB's algorithm, reproduced step by step:

* output size ``ceil(scale .* [rows cols])``; with an explicit size, ``scale = size ./ [rows cols]``
  (one entry may be None - MATLAB's NaN - and is derived from the aspect ratio);
* per dimension, weights ``h(u - j)`` for the input pixels ``j = left .. left+P-1`` around
  ``u = x/scale + 0.5*(1 - 1/scale)``, ``P = ceil(width) + 2``; when shrinking with antialiasing the
  kernel is stretched, ``h(x) = scale*kernel(scale*x)`` and ``width = width/scale``; each row of
  weights is divided by its sum, accumulated left to right; all-zero weight columns are dropped;
  out-of-range indices are mirrored (``[1:n, n:-1:1]``, MATLAB R2016a+) or, with
  ``border="replicate"``, clamped to ``[1, n]`` as in older releases;
* the dimension with the smaller scale is resized first (ties: rows first); a dimension whose
  weights are a single column of ones is a plain index copy;
* each 1-D pass computes ``sum_k w_k * x_k`` in double, multiplying then adding in tap order
  (no fused multiply-add), and casts back to the input class after the pass: integer classes
  round half away from zero and saturate, single is rounded to single; logical input is resized
  as uint8 0/255 and thresholded ``> 128``, as MATLAB does.

Kernels evaluate MATLAB's expressions in MATLAB's operation order. ``absx.^3`` is taken correctly
rounded (MATLAB's power, unlike ``x*x*x``); ``sin`` in the Lanczos kernels is the C library's.

Arrays are numpy arrays in MATLAB orientation (rows x cols x further dims). The result has the
shape and class MATLAB returns; its memory layout is whichever the computation ends in (usually
column-major, MATLAB's own) unless ``order='C'`` or ``order='F'`` is asked for.
"""
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import PortError
from .mfuncs import as_array, matlab_class, to_class

__all__ = ["imresize", "contributions", "set_num_threads", "get_num_threads", "release_buffers",
           "kernel_available", "set_use_kernel", "get_use_kernel", "METHODS"]

# ---------------------------------------------------------------------------------------------
# Kernels


def _cube(ax):
    """Correctly rounded ``ax**3`` elementwise (exact rational cube, one rounding)."""
    flat = ax.ravel()
    uniq, inv = np.unique(flat, return_inverse=True)
    vals = np.empty(uniq.shape, np.float64)
    for i, v in enumerate(uniq.tolist()):
        if v == 0.0 or not math.isfinite(v):
            vals[i] = v * v * v
        else:
            n, d = v.as_integer_ratio()
            try:
                vals[i] = (n * n * n) / (d * d * d)
            except OverflowError:
                vals[i] = math.inf
    return vals[inv].reshape(ax.shape)


def _libm(fn, x):
    """Apply a ``math`` function elementwise (C library, not numpy's SIMD variants)."""
    flat = x.ravel()
    uniq, inv = np.unique(flat, return_inverse=True)
    vals = np.array([fn(v) for v in uniq.tolist()], np.float64)
    return vals[inv].reshape(x.shape)


def _cubic(x):
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = _cube(ax)
    inner = (ax <= 1).astype(np.float64)
    outer = ((1 < ax) & (ax <= 2)).astype(np.float64)
    near = ((1.5 * ax3 - 2.5 * ax2) + 1) * inner
    return near + ((((-0.5) * ax3 + 2.5 * ax2) - 4 * ax) + 2) * outer


def _box(x):
    return ((-0.5 <= x) & (x < 0.5)).astype(np.float64)


def _triangle(x):
    left = ((-1 <= x) & (x < 0)).astype(np.float64)
    right = ((0 <= x) & (x <= 1)).astype(np.float64)
    return (x + 1) * left + (1 - x) * right


_EPS = 2.0 ** -52
_PI2 = math.pi * math.pi


def _lanczos(a):
    def kernel(x):
        px = math.pi * x
        num = _libm(math.sin, px) * _libm(math.sin, px / a) + _EPS
        den = (_PI2 * (x * x)) / a + _EPS
        return (num / den) * (np.abs(x) < a).astype(np.float64)
    return kernel


_lanczos2 = _lanczos(2.0)
_lanczos3 = _lanczos(3.0)

METHODS = {
    "nearest": (_box, 1.0), "bilinear": (_triangle, 2.0), "bicubic": (_cubic, 4.0),
    "box": (_box, 1.0), "triangle": (_triangle, 2.0), "cubic": (_cubic, 4.0),
    "lanczos2": (_lanczos2, 4.0), "lanczos3": (_lanczos3, 6.0),
}
_METHOD_ORDER = ("nearest", "bilinear", "bicubic", "box", "triangle", "cubic", "lanczos2",
                 "lanczos3")


def _parse_method(method):
    """(kernel, width, default antialiasing, cache key) for a method name or (callable, width)."""
    if isinstance(method, str):
        m = method.lower()
        hits = [n for n in _METHOD_ORDER if n.startswith(m)] if m else []
        if len(hits) != 1:
            what = "ambiguous" if hits else "unknown"
            raise PortError(f"method: {what} method {method!r}; expected one of "
                            f"{', '.join(_METHOD_ORDER)} or a (kernel, width) pair")
        name = hits[0]
        kernel, width = METHODS[name]
        return kernel, width, name != "nearest", name
    if isinstance(method, (tuple, list)) and len(method) == 2 and callable(method[0]):
        width = float(method[1])
        if not (width > 0 and math.isfinite(width)):
            raise PortError(f"method: kernel width must be positive and finite, got {method[1]!r}")
        return method[0], width, True, None
    raise PortError(f"method: expected a method name or a (kernel, width) pair, got {method!r}")


# ---------------------------------------------------------------------------------------------
# Weights and indices


def _contributions(in_len, out_len, scale, kernel, width, antialiasing, border):
    if scale < 1 and antialiasing:
        def h(x):
            return scale * kernel(scale * x)
        width = width / scale
    else:
        h = kernel
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(p, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.asarray(h(u[:, None] - ind), dtype=np.float64)
        total = w[:, 0].copy()
        for k in range(1, p):
            total += w[:, k]
        w = w / total[:, None]
    ind = ind.astype(np.int64)
    if border == "mirror":
        aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
        ind = aux[np.mod(ind - 1, aux.size)]
    else:
        ind = np.clip(ind, 1, in_len)
    keep = np.any(w != 0, axis=0)
    w = np.ascontiguousarray(w[:, keep])
    ind = np.ascontiguousarray(ind[:, keep] - 1)
    w.flags.writeable = False
    ind.flags.writeable = False
    return w, ind


@functools.lru_cache(maxsize=256)
def _cached_contributions(in_len, out_len, scale, name, antialiasing, border):
    kernel, width = METHODS[name]
    return _contributions(in_len, out_len, scale, kernel, width, antialiasing, border)


def contributions(in_len, out_len, scale, method="bicubic", antialiasing=None, border="mirror"):
    """MATLAB's ``contributions``: weights (out_len x K, double) and 0-based input indices.

    Row ``i`` holds the weights and indices of output pixel ``i`` along one dimension.
    """
    kernel, width, aa_default, name = _parse_method(method)
    aa = aa_default if antialiasing is None else bool(antialiasing)
    border = _check_border(border)
    for arg, v in (("in_len", in_len), ("out_len", out_len)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise PortError(f"{arg}: expected a positive integer, got {v!r}")
    scale = float(scale)
    if not (scale > 0 and math.isfinite(scale)):
        raise PortError(f"scale: expected a positive finite number, got {scale!r}")
    if name is None:
        return _contributions(int(in_len), int(out_len), scale, kernel, width, aa, border)
    return _cached_contributions(int(in_len), int(out_len), scale, name, aa, border)


def _check_border(border):
    if border not in ("mirror", "replicate"):
        raise PortError(f"border: expected 'mirror' (MATLAB R2016a+) or 'replicate' (older "
                        f"releases), got {border!r}")
    return border


# ---------------------------------------------------------------------------------------------
# Pass plans. For rational scales the indices are periodic: output row o = s + p*t + r reads
# input rows js[r] + q*t. Inside such a region every tap of every phase is a strided view of the
# input (no gathers), with the exact weights of each row. Rows outside regions (borders,
# irrational scales) gather their inputs. Either way each output pixel is sum_k w_k*x_k with
# MATLAB's w_k, x_k and order.


class _Plan:
    """Weights, indices and the region decomposition of one dimension's resize."""

    __slots__ = ("in_len", "out_len", "weights", "indices", "nearest", "regions", "loose")

    def __init__(self, weights, indices, in_len):
        self.in_len = in_len
        self.out_len = weights.shape[0]
        self.weights = weights
        self.indices = indices
        self.nearest = weights.shape[1] == 1 and bool(np.all(weights == 1))
        self.regions = []
        self.loose = []
        if not self.nearest:
            self._decompose()

    def _period(self):
        ind = self.indices
        n = self.out_len
        best = None
        for p in range(1, min(64, n // 2) + 1):
            d = ind[p:] - ind[:-p]
            ok = np.all(d == d[:, :1], axis=1) & (d[:, 0] >= 1)
            if not ok.any():
                continue
            steps, counts = np.unique(d[ok, 0], return_counts=True)
            q = int(steps[np.argmax(counts)])
            ok &= d[:, 0] == q
            covered = int(ok.sum())
            if best is None or covered > best[2]:
                best = (p, q, covered, ok)
            if covered >= 0.9 * (n - p):
                break
        return best

    def _weight_segments(self, first, p, count):
        """Runs (t_a, t_b, weights) of rows first + p*t that share one weight row.

        Weight rows of a phase differ only in their last bits, where u crosses a power of two;
        a scalar weight per tap keeps numpy on its fastest loops."""
        rows = self.weights[first:first + p * count:p]
        bits = rows.view(np.int64)
        cuts = np.flatnonzero(np.any(bits[1:] != bits[:-1], axis=1)) + 1
        edges = [0] + cuts.tolist() + [count]
        return tuple((a, b, tuple(rows[a].tolist())) for a, b in zip(edges[:-1], edges[1:]))

    def _decompose(self):
        n = self.out_len
        covered = np.zeros(n, bool)
        best = self._period()
        if best is not None:
            p, q, _, ok = best
            o = 0
            while o < n - p:
                if not ok[o]:
                    o += 1
                    continue
                s = o
                while o < n - p and ok[o]:
                    o += 1
                count = (o + p - s) // p
                if count >= 2:
                    js = tuple(tuple(int(v) for v in self.indices[s + r]) for r in range(p))
                    segs = tuple(self._weight_segments(s + r, p, count) for r in range(p))
                    self.regions.append((s, p, q, count, js, segs))
                    covered[s:s + p * count] = True
        rest = np.flatnonzero(~covered)
        if rest.size:
            cuts = np.flatnonzero(np.diff(rest) != 1) + 1
            for run in np.split(rest, cuts):
                self.loose.append((int(run[0]), int(run[-1]) + 1))


@functools.lru_cache(maxsize=256)
def _cached_plan(in_len, out_len, scale, name, antialiasing, border):
    w, ind = _cached_contributions(in_len, out_len, scale, name, antialiasing, border)
    return _Plan(w, ind, in_len)


# ---------------------------------------------------------------------------------------------
# Threads

_num_threads = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else (os.cpu_count() or 1)))
_pool = None
_pool_lock = threading.Lock()


def set_num_threads(n):
    """Number of worker threads imresize may use (numpy releases the GIL in its loops)."""
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise PortError(f"n: expected a positive integer, got {n!r}")
    with _pool_lock:
        _num_threads = int(n)
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def get_num_threads():
    """Number of worker threads imresize uses."""
    return _num_threads


_local = threading.local()


def _scratch(slot, shape, dtype):
    """A per-thread reusable buffer (fresh pages cost more than the arithmetic on them)."""
    dtype = np.dtype(dtype)
    need = int(np.prod(shape)) * dtype.itemsize
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.size < need:
        buf = bufs[slot] = np.empty(max(need, 1), np.uint8)
    return buf[:need].view(dtype).reshape(shape)


def release_buffers():
    """Free the scratch buffers imresize keeps for the calling thread, and the memory of dropped
    results that the compiled kernel keeps for reuse."""
    _local.bufs = {}
    if _resize_kernel is not None:
        _resize_kernel.release_results()


def _get_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="imresize")
        return _pool


# ---------------------------------------------------------------------------------------------
# One 1-D pass on a C-contiguous (A, L, M) array: resize axis 1.
#
# Work is cut into blocks of output rows small enough to stay in cache. In a periodic region a
# block takes each phase in turn and, tap by tap, multiplies a strided view of the input rows by
# the tap's weight and adds the products into a contiguous accumulator, in tap order:
# ((w_0*x_0 + w_1*x_1) + w_2*x_2) + ..., the order of MATLAB's loop. The accumulator is then
# copied to the phase's output rows (numpy's arithmetic loops are several times slower on
# outputs made of many short rows than on contiguous ones; its copies are not). Border rows
# gather their input rows instead.

_BLOCK_BYTES = 1 << 19
_GATHER_BYTES = 1 << 20
_MIN_PARALLEL = 1 << 22


def _tasks(plan, a_dim, m_dim):
    """Blocks of work (first output row, kind, spec, t0, t1), sorted by output row."""
    k_taps = plan.weights.shape[1]
    row_bytes = max(1, a_dim * m_dim * 8)
    tasks = []
    rows = max(1, _BLOCK_BYTES // (2 * row_bytes))
    for reg in plan.regions:
        s, p, _, count = reg[:4]
        for t0 in range(0, count, rows):
            tasks.append((s + p * t0, 0, reg, t0, min(count, t0 + rows)))
    rows = max(1, _GATHER_BYTES // (row_bytes * k_taps))
    for (s, e) in plan.loose:
        for r0 in range(s, e, rows):
            tasks.append((r0, 1, None, r0, min(e, r0 + rows)))
    tasks.sort(key=lambda t: (t[0], t[1]))
    return tasks


def _task_rows(task):
    _, kind, spec, t0, t1 = task
    return (t1 - t0) * (spec[1] if kind == 0 else 1)


def _run_tasks(src, dst, plan, tasks):
    """Execute blocks of one pass (see the comment above); IEEE results, no warnings (MATLAB
    gives NaN for 0*Inf silently)."""
    with np.errstate(all="ignore"):
        _run_blocks(src, dst, plan, tasks)


def _run_blocks(src, dst, plan, tasks):
    a_dim, _, m_dim = src.shape
    k_taps = plan.weights.shape[1]
    f64 = np.float64
    most = max(t[4] - t[3] for t in tasks) * a_dim * m_dim
    tmp_all = _scratch("prod", (k_taps * most,), f64)
    acc_all = None
    gath_all = None
    for _, kind, spec, t0, t1 in tasks:
        n = t1 - t0
        blk = a_dim * n * m_dim
        if kind == 0:
            s, p, q, _, js, segs = spec
            o_a = s + p * t0
            tmp = tmp_all[:blk].reshape(a_dim, n, m_dim)
            if p == 1:
                acc = dst[:, o_a:o_a + n, :]
            else:
                if acc_all is None:
                    acc_all = _scratch("acc", (most,), f64)
                acc = acc_all[:blk].reshape(a_dim, n, m_dim)
            last = q * (n - 1) + 1
            for r in range(p):
                jr = js[r]
                parts = [(max(ta, t0) - t0, min(tb, t1) - t0, w)
                         for ta, tb, w in segs[r] if ta < t1 and tb > t0]
                for k in range(k_taps):
                    first = jr[k] + q * t0
                    view = src[:, first:first + last:q, :]
                    out = acc if k == 0 else tmp
                    if len(parts) == 1:
                        np.multiply(view, parts[0][2][k], out=out, dtype=f64)
                    else:
                        for lo, hi, w in parts:
                            np.multiply(view[:, lo:hi], w[k], out=out[:, lo:hi], dtype=f64)
                    if k:
                        np.add(acc, tmp, out=acc)
                if p != 1:
                    np.copyto(dst[:, o_a + r:o_a + r + p * (n - 1) + 1:p, :], acc)
        else:
            ov = dst[:, t0:t1, :]
            wblk = plan.weights[t0:t1].T.reshape(1, k_taps, n, 1)
            iblk = plan.indices[t0:t1].T
            if gath_all is None:
                gath_all = _scratch("gather", (k_taps * most,), src.dtype)
            gath = gath_all[:k_taps * blk].reshape(a_dim, k_taps, n, m_dim)
            np.take(src, iblk, axis=1, out=gath, mode="clip")
            prod = tmp_all[:k_taps * blk].reshape(a_dim, k_taps, n, m_dim)
            np.multiply(gath, wblk, out=prod, dtype=f64)
            if k_taps == 1:
                np.copyto(ov, prod[:, 0])
                continue
            np.add(prod[:, 0], prod[:, 1], out=ov)
            for k in range(2, k_taps):
                np.add(ov, prod[:, k], out=ov)


def _apply_plan(src, plan, fresh):
    """Resize axis 1 of the C-contiguous ``src`` (A, L, M) into a float64 (A, L', M) array, new
    when ``fresh``, else a scratch buffer of the calling thread."""
    a_dim, _, m_dim = src.shape
    shape = (a_dim, plan.out_len, m_dim)
    dst = np.empty(shape, np.float64) if fresh else _scratch("pass", shape, np.float64)
    tasks = _tasks(plan, a_dim, m_dim)
    work = dst.size * plan.weights.shape[1]
    nthreads = min(_num_threads, len(tasks))
    if nthreads <= 1 or work < _MIN_PARALLEL:
        _run_tasks(src, dst, plan, tasks)
        return dst
    sizes = np.array([_task_rows(t) for t in tasks], np.float64)
    bounds = np.searchsorted(np.cumsum(sizes), sizes.sum() * np.arange(1, nthreads) / nthreads)
    parts = [p for p in np.split(np.arange(len(tasks)), bounds) if p.size]
    pool = _get_pool()
    futures = [pool.submit(_run_tasks, src, dst, plan, [tasks[i] for i in part])
               for part in parts[1:]]
    _run_tasks(src, dst, plan, [tasks[i] for i in parts[0]])
    for f in futures:
        f.result()
    return dst


# ---------------------------------------------------------------------------------------------
# Layouts. B is (H, W, C) with C = product of the trailing dimensions. A pass along rows wants a
# (A, H, M) view with rows as axis 1 and contiguous M (C-order (1, H, W*C) or planar (C, H, W));
# a pass along columns wants (C, W, H) (column-major) or (1, W, H*C).


_SLAB = 64


def _copy_transposed(dst, src_view):
    """dst[...] = src_view, in slabs along dst's last axis so both sides stay in cache."""
    for s in range(0, dst.shape[-1], _SLAB):
        np.copyto(dst[..., s:s + _SLAB], src_view[..., s:s + _SLAB])


def _rows_view(b):
    """(A, H, M) view of b for a pass along rows, copying only when needed."""
    h, w, c = b.shape
    if b.flags.c_contiguous:
        return b.reshape(1, h, w * c), "hwc"
    planar = b.transpose(2, 0, 1)
    if planar.flags.c_contiguous:
        return planar, "chw"
    out = _scratch("layout", (c, h, w), b.dtype)
    _copy_transposed(out, planar)
    return out, "chw"


def _cols_view(b):
    """(A, W, M) view of b for a pass along columns, copying only when needed."""
    h, w, c = b.shape
    cwh = b.transpose(2, 1, 0)
    if cwh.flags.c_contiguous:
        return cwh, "cwh"
    whc = b.transpose(1, 0, 2)
    if whc.flags.c_contiguous:
        return whc.reshape(1, w, h * c), "whc"
    out = _scratch("layout", (c, w, h), b.dtype)
    _copy_transposed(out, cwh)
    return out, "cwh"


def _from_view(d, layout, h, w, c):
    """Back from a pass result ``d`` (A, L, M) to an (H, W, C) view."""
    if layout == "hwc":
        return d.reshape(h, w, c)
    if layout == "chw":
        return d.transpose(1, 2, 0)
    if layout == "cwh":
        return d.transpose(2, 1, 0)
    return d.reshape(w, h, c).transpose(1, 0, 2)


def _cast_pass(d, cls):
    if cls == "double":
        return d
    if cls == "single":
        return d.astype(np.float32)
    with np.errstate(all="ignore"):
        return to_class(d, cls)


def _resize_dim(b, dim, plan, cls, final):
    """One pass along ``dim`` (0 rows, 1 cols) of (H, W, C) ``b``, cast back to ``cls``. Only the
    final pass returns memory of its own; earlier passes may return scratch buffers."""
    h, w, c = b.shape
    if plan.nearest:
        return np.take(b, plan.indices[:, 0], axis=dim)
    v, layout = _rows_view(b) if dim == 0 else _cols_view(b)
    d = _apply_plan(v, plan, fresh=final and cls == "double")
    d = _cast_pass(d, cls)
    if dim == 0:
        return _from_view(d, layout, plan.out_len, w, c)
    return _from_view(d, layout, h, plan.out_len, c)


# ---------------------------------------------------------------------------------------------
# Compiled passes. _resize_kernel.c computes each output element with the operations of the
# numpy path above, in the same order (first product, then + w_k*x_k tap by tap, in double, no
# fused multiply-add), reading strided inputs directly: the layout copies are not needed. When
# the second pass enlarges a double image into the usual result layout, both passes run at once
# (resize_fused: bands of the result, the intermediate kept in cache); otherwise the
# intermediate is laid out as the numpy path lays it out or, when the second pass enlarges, as
# that pass reads it fastest. The result has the numpy path's bits, class, shape and memory
# layout. Without the compiled module, or after set_use_kernel(False), the numpy path runs.

try:
    from . import _resize_kernel
except ImportError:
    _resize_kernel = None

_KERNEL_DTYPES = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.uint8, np.int8,
                                                  np.uint16, np.int16, np.uint32, np.int32))
_use_kernel = _resize_kernel is not None
# Multiply-adds below which a compiled pass stays on one thread (about 4 ms of work): a helper
# thread that the system preempts while it holds a piece of the work makes the call wait for
# it, which costs more than a second thread saves on short calls.
_KERNEL_MIN_PARALLEL = 1 << 23
_KERNEL_IDLE_CHECK = True
# Double results of this size and more get their memory from the kernel module, which keeps up
# to two blocks of results that nothing refers to any more for reuse (release_buffers() frees
# them): memory fresh from the system is cleared page by page on first write, which for 50 MB
# costs as much as the resize itself. Smaller blocks the C allocator already reuses.
_RESULT_REUSE_BYTES = 32 << 20
_num_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
    (os.cpu_count() or 1)


def kernel_available():
    """Whether the compiled resize kernel (matlab_ports._resize_kernel) was built."""
    return _resize_kernel is not None


def set_use_kernel(flag):
    """Use the compiled kernel when available (default) or force the numpy path; results are
    the same either way. Returns the previous setting."""
    global _use_kernel
    previous = _use_kernel
    _use_kernel = bool(flag) and _resize_kernel is not None
    return previous


def get_use_kernel():
    """Whether imresize uses the compiled kernel."""
    return _use_kernel


def _kernel_view(b, dim):
    """The numpy path's (A, L, M) view of ``b`` for a pass along ``dim`` and its layout name,
    without the copies (the kernel reads any strides)."""
    h, w, c = b.shape
    if dim == 0:
        if b.flags.c_contiguous:
            return b.reshape(1, h, w * c), "hwc"
        return b.transpose(2, 0, 1), "chw"
    cwh = b.transpose(2, 1, 0)
    if cwh.flags.c_contiguous:
        return cwh, "cwh"
    whc = b.transpose(1, 0, 2)
    if whc.flags.c_contiguous:
        return whc.reshape(1, w, h * c), "whc"
    return cwh, "cwh"


def _planar(b, dim):
    """(C, L, other) view of (H, W, C) ``b`` for a pass along ``dim``."""
    return b.transpose(2, 0, 1) if dim == 0 else b.transpose(2, 1, 0)


def _kernel_result(shape):
    """A new float64 C-order array for a result: np.empty, or for a large result memory reused
    from a result nobody uses any more (see _resize_kernel.result_buffer)."""
    n = shape[0] * shape[1] * shape[2]
    if n * 8 < _RESULT_REUSE_BYTES:
        return np.empty(shape, np.float64)
    return np.frombuffer(_resize_kernel.result_buffer(n * 8), np.float64, n).reshape(shape)


def _kernel_threads(work):
    """Threads for ``work`` multiply-adds: up to get_num_threads(), no more than the processors
    that are idle right now (Linux: runnable threads in /proc/loadavg), else one."""
    if _num_threads <= 1 or work < _KERNEL_MIN_PARALLEL:
        return 1
    if not _KERNEL_IDLE_CHECK:
        return _num_threads
    try:
        with open("/proc/loadavg", "rb") as f:
            runnable = int(f.read().split()[3].split(b"/")[0])  # this thread included
    except (OSError, ValueError, IndexError):
        return _num_threads
    return max(1, min(_num_threads, _num_cpus - runnable + 1))


def _kernel_pass(src, dst, plan):
    nthreads = _kernel_threads(dst.size * plan.weights.shape[1])
    _resize_kernel.resize_pass(src, dst, plan.weights, plan.indices, nthreads)


def _kernel_dim(b, dim, plan, cls, final):
    """_resize_dim with the compiled pass."""
    h, w, c = b.shape
    if plan.nearest:
        return np.take(b, plan.indices[:, 0], axis=dim)
    v, layout = _kernel_view(b, dim)
    shape = (v.shape[0], plan.out_len, v.shape[2])
    d = _kernel_result(shape) if final and cls == "double" else \
        _scratch("pass", shape, np.float64)
    _kernel_pass(v, d, plan)
    d = _cast_pass(d, cls)
    if dim == 0:
        return _from_view(d, layout, plan.out_len, w, c)
    return _from_view(d, layout, h, plan.out_len, c)


def _kernel_resize(b, dims, plans, cls):
    """Both passes of imresize with the compiled kernel."""
    first, second = plans[dims[0]], plans[dims[1]]
    if first.nearest or second.nearest:
        for i, dim in enumerate(dims):
            b = _kernel_dim(b, dim, plans[dim], cls, final=i == 1)
        return b
    h, w, c = b.shape
    size1 = (first.out_len, w) if dims[0] == 0 else (h, first.out_len)
    v1, layout1 = _kernel_view(b, dims[0])
    shape1 = (v1.shape[0], first.out_len, v1.shape[2])
    # the numpy path's intermediate layout decides the second pass's layout, hence the result's
    # (np.empty only to see the views' flags: its pages are never touched)
    v2, layout2 = _kernel_view(_from_view(np.empty(shape1, np.float64), layout1, *size1, c),
                               dims[1])
    size2 = list(size1)
    size2[dims[1]] = second.out_len
    if cls == "double" and layout2 == ("cwh", "chw")[dims[0]] and \
            second.out_len >= second.in_len:
        # result (C, P', L') C-order; both passes at once, bands of P' at a time
        d = _kernel_result((c, second.out_len, first.out_len))
        nthreads = _kernel_threads(d.size * (first.weights.shape[1] + second.weights.shape[1]))
        _resize_kernel.resize_fused(_planar(b, dims[1]), d, first.weights, first.indices,
                                    second.weights, second.indices, nthreads)
        return _from_view(d, layout2, *size2, c)
    buf = _scratch("pass", (shape1[0] * shape1[1] * shape1[2],), np.float64)
    mid = buf.reshape(shape1)
    v2, _ = _kernel_view(_from_view(mid, layout1, *size1, c), dims[1])
    if v2.shape[2] > 1 and v2.strides[2] != v2.itemsize and second.out_len >= second.in_len:
        # the second pass enlarges: write the intermediate as it reads it, (A, L, M) C-order
        mid = buf.reshape(v2.shape)
        _kernel_pass(_planar(b, dims[0]), _planar(_from_view(mid, layout2, *size1, c), dims[0]),
                     first)
        v2 = _cast_pass(mid, cls)
    else:
        _kernel_pass(v1, mid, first)
        if cls != "double":
            v2, _ = _kernel_view(_from_view(_cast_pass(mid, cls), layout1, *size1, c), dims[1])
    shape2 = (v2.shape[0], second.out_len, v2.shape[2])
    d = _kernel_result(shape2) if cls == "double" else _scratch("pass", shape2, np.float64)
    _kernel_pass(v2, d, second)
    d = _cast_pass(d, cls)
    return _from_view(d, layout2, *size2, c)


# ---------------------------------------------------------------------------------------------
# Sizes and the public function


def _positive(v, what):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise PortError(f"{what}: expected a positive number, got {v!r}") from None
    if not (f > 0 and math.isfinite(f)):
        raise PortError(f"{what}: expected a positive finite number, got {v!r}")
    return f


def _size_and_scale(shape, scale, output_size):
    """MATLAB's fixupSizeAndScale: (scale per dim, output size per dim)."""
    rows, cols = shape[0], shape[1]
    if scale is None and output_size is None:
        raise PortError("imresize: give scale or output_size")
    sc = None
    if scale is not None:
        if np.ndim(scale) == 0:
            s = _positive(scale, "scale")
            sc = (s, s)
        elif np.ndim(scale) == 1 and len(scale) == 2:
            sc = (_positive(scale[0], "scale[0]"), _positive(scale[1], "scale[1]"))
        else:
            raise PortError(f"scale: expected a number or two numbers, got {scale!r}")
    size = None
    size_dim = None
    if output_size is not None:
        if np.ndim(output_size) != 1 or len(output_size) != 2:
            raise PortError(f"output_size: expected (rows, cols), got {output_size!r}")
        r, c = (None if (v is None or (isinstance(v, float) and math.isnan(v))) else v
                for v in output_size)
        if r is None and c is None:
            raise PortError("output_size: rows and cols cannot both be None")
        if r is not None:
            r = _positive(r, "output_size[0]")
        if c is not None:
            c = _positive(c, "output_size[1]")
        if r is None:
            r = c * rows / cols
            size_dim = 1
        elif c is None:
            c = r * cols / rows
            size_dim = 0
        size = (math.ceil(r), math.ceil(c))
        if sc is None:
            if size_dim is not None:
                s = size[size_dim] / shape[size_dim]
                sc = (s, s)
            else:
                sc = (size[0] / rows, size[1] / cols)
    if size is None:
        size = (math.ceil(sc[0] * rows), math.ceil(sc[1] * cols))
    if min(size) < 1:
        raise PortError(f"imresize: output size {size} is empty")
    return sc, size


def imresize(A, scale=None, output_size=None, method="bicubic", antialiasing=None,
             border="mirror", order="K"):
    """MATLAB ``imresize(A, scale)`` / ``imresize(A, [rows cols])``, bit-exact.

    ``scale`` is a number or (row scale, col scale); ``output_size`` is (rows, cols) with at most
    one None (MATLAB's NaN: keep the aspect ratio). ``method``: 'nearest', 'bilinear', 'bicubic'
    (default), 'box', 'triangle', 'cubic', 'lanczos2', 'lanczos3' (unique prefixes accepted) or a
    (kernel, width) pair. ``antialiasing`` defaults to MATLAB's (on, except for 'nearest'),
    acting only when shrinking. ``border='replicate'`` selects the clamped indices of releases
    before R2016a. ``A`` may be double, single, logical or an integer class, with any number of
    trailing dimensions; the result has A's class. ``order``: memory layout of the result, 'K'
    (as computed, fastest), 'C' or 'F'.
    """
    A = as_array(A, "A", min_ndim=2)
    cls = matlab_class(A, "A")
    kernel, width, aa_default, name = _parse_method(method)
    aa = aa_default if antialiasing is None else bool(antialiasing)
    border = _check_border(border)
    if order not in ("K", "C", "F"):
        raise PortError(f"order: expected 'K', 'C' or 'F', got {order!r}")
    sc, size = _size_and_scale(A.shape, scale, output_size)

    plans = []
    for k in range(2):
        if name is None:
            w, ind = _contributions(A.shape[k], size[k], sc[k], kernel, width, aa, border)
            plans.append(_Plan(w, ind, A.shape[k]))
        else:
            plans.append(_cached_plan(A.shape[k], size[k], sc[k], name, aa, border))

    trailing = A.shape[2:]
    b = A.reshape(A.shape[0], A.shape[1], -1) if A.ndim != 3 else A
    work_cls = cls
    if cls == "logical":
        b = b.astype(np.uint8) * np.uint8(255)
        work_cls = "uint8"
    if plans[0].nearest and plans[1].nearest:
        b = b[plans[0].indices[:, 0]][:, plans[1].indices[:, 0]]
    else:
        dims = (0, 1) if sc[0] <= sc[1] else (1, 0)
        if _use_kernel and b.dtype in _KERNEL_DTYPES and b.flags.aligned:
            b = _kernel_resize(b, dims, plans, work_cls)
        else:
            for i, dim in enumerate(dims):
                b = _resize_dim(b, dim, plans[dim], work_cls, final=i == 1)
    if cls == "logical":
        b = b > 128
    out = b.reshape(size + trailing)
    if order == "C":
        out = np.ascontiguousarray(out)
    elif order == "F":
        out = np.asfortranarray(out)
    return out
