"""The interpolation kernels of MATLAB's ``imresize`` and its method names.

Each kernel evaluates MATLAB's expression in MATLAB's operation order: ``absx.^3`` is taken
correctly rounded (MATLAB's power, unlike ``x*x*x``); ``sin`` in the Lanczos kernels is the C
library's. :data:`METHODS` maps a method name to (kernel, support width); a method may be named
by a unique prefix or given as a (kernel, width) pair.
"""
import math

import numpy as np

from .errors import PortError

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
