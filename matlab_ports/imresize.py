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

The parts live beside this module: kernels and method names (:mod:`.resize_kernels`), weights
and pass plans (:mod:`.resize_weights`), the numpy passes (:mod:`.resize_passes`), the compiled
ones (:mod:`.resize_compiled`) and the worker threads (:mod:`.resize_threads`).
"""
import math

import numpy as np

from . import resize_compiled, resize_threads
from .errors import PortError
from .mfuncs import as_array, matlab_class
from .resize_compiled import (_KERNEL_DTYPES, _kernel_resize, _resize_kernel,  # noqa: F401
                              get_use_kernel, kernel_available, set_use_kernel)
from .resize_kernels import METHODS, _parse_method
from .resize_passes import _resize_dim
from .resize_threads import get_num_threads, set_num_threads
from .resize_weights import (_cached_plan, _check_border, _contributions, _Plan,
                             contributions)

__all__ = ["imresize", "contributions", "set_num_threads", "get_num_threads", "release_buffers",
           "kernel_available", "set_use_kernel", "get_use_kernel", "METHODS"]


def release_buffers():
    """Free the scratch buffers imresize keeps for the calling thread, and the memory of dropped
    results that the compiled kernel keeps for reuse."""
    resize_threads._local.bufs = {}
    if _resize_kernel is not None:
        _resize_kernel.release_results()


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
        if resize_compiled.get_use_kernel() and b.dtype in _KERNEL_DTYPES and \
                b.flags.aligned:
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
