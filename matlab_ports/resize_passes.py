"""One 1-D pass of ``imresize`` in numpy, and the layouts between the two passes.

Each pass computes ``sum_k w_k * x_k`` in double, multiplying then adding in tap order (no
fused multiply-add), and casts back to the input class after the pass: integer classes round
half away from zero and saturate, single is rounded to single.
"""
import numpy as np

from caffe_compat.parallel.threads import usable_threads

from . import resize_threads
from .mfuncs import to_class
from .resize_threads import _get_pool, _scratch

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
    nthreads = min(resize_threads.get_num_threads(), len(tasks))
    if nthreads > 1 and work >= _MIN_PARALLEL:
        nthreads = min(nthreads, usable_threads())   # the cores other processes leave us
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
