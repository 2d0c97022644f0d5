"""The passes of ``imresize`` in the compiled kernel (``matlab_ports/_resize_kernel.c``).

Bit-identical to the numpy passes (:mod:`.resize_passes`); see the comment below for how.
"""
import os

import numpy as np

from caffe_compat.parallel.threads import usable_threads

from . import resize_threads
from .resize_passes import _cast_pass, _from_view
from .resize_threads import _scratch

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
    """Threads for ``work`` multiply-adds: up to get_num_threads(), no more than the cores
    other processes leave us (caffe_compat.parallel.threads.usable_threads) nor the processors idle
    right now (Linux: runnable threads in /proc/loadavg), else one."""
    n = resize_threads.get_num_threads()
    if n <= 1 or work < _KERNEL_MIN_PARALLEL:
        return 1
    if not _KERNEL_IDLE_CHECK:
        return n
    n = min(n, usable_threads())
    try:
        with open("/proc/loadavg", "rb") as f:
            runnable = int(f.read().split()[3].split(b"/")[0])  # this thread included
    except (OSError, ValueError, IndexError):
        return n
    return max(1, min(n, _num_cpus - runnable + 1))


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
