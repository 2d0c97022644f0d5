"""A deliberately plain imresize used to check the optimised one.

Weights are computed with Python floats, one value at a time, following MATLAB's imresize.m
expressions literally; the 1-D passes gather whole rows per tap and accumulate with separate
numpy multiply and add calls. Slow, but with nothing clever in it.
"""
import math
from fractions import Fraction

import numpy as np


def _cube(v):
    if v == 0.0:
        return 0.0
    return float(Fraction(v) ** 3)


def cubic(x):
    a = abs(x)
    a2 = a * a
    a3 = _cube(a)
    inner = 1.0 if a <= 1 else 0.0
    outer = 1.0 if (1 < a and a <= 2) else 0.0
    return ((1.5 * a3 - 2.5 * a2) + 1) * inner + ((((-0.5) * a3 + 2.5 * a2) - 4 * a) + 2) * outer


def box(x):
    return 1.0 if (-0.5 <= x and x < 0.5) else 0.0


def triangle(x):
    left = 1.0 if (-1 <= x and x < 0) else 0.0
    right = 1.0 if (0 <= x and x <= 1) else 0.0
    return (x + 1) * left + (1 - x) * right


def lanczos(a):
    def f(x):
        px = math.pi * x
        num = math.sin(px) * math.sin(px / a) + 2.0 ** -52
        den = (math.pi * math.pi * (x * x)) / a + 2.0 ** -52
        return (num / den) * (1.0 if abs(x) < a else 0.0)
    return f


KERNELS = {"nearest": (box, 1.0), "bilinear": (triangle, 2.0), "bicubic": (cubic, 4.0),
           "box": (box, 1.0), "triangle": (triangle, 2.0), "cubic": (cubic, 4.0),
           "lanczos2": (lanczos(2.0), 4.0), "lanczos3": (lanczos(3.0), 6.0)}


def contributions(in_len, out_len, scale, method, aa, border="mirror"):
    kernel, width = KERNELS[method]
    if scale < 1 and aa:
        def h(x):
            return scale * kernel(scale * x)
        width = width / scale
    else:
        h = kernel
    p = int(math.ceil(width)) + 2
    weights = []
    indices = []
    for o in range(1, out_len + 1):
        u = o / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        row = [h(u - (left + k)) for k in range(p)]
        total = 0.0
        for v in row:
            total += v
        weights.append([v / total for v in row])
        idx = []
        for k in range(p):
            j = left + k
            if border == "mirror":
                m = (j - 1) % (2 * in_len)
                j = m + 1 if m < in_len else 2 * in_len - m
            else:
                j = min(max(1, j), in_len)
            idx.append(j - 1)
        indices.append(idx)
    w = np.array(weights)
    ind = np.array(indices, dtype=np.int64)
    keep = np.any(w != 0, axis=0)
    return w[:, keep], ind[:, keep]


def _to_class(x, dtype):
    if dtype == np.float64:
        return x
    if dtype == np.float32:
        return x.astype(np.float32)
    info = np.iinfo(dtype)
    t = np.trunc(x)
    r = np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)
    r = np.where(np.isnan(r), 0.0, r)
    return np.clip(r, info.min, info.max).astype(dtype)


def resize_dim(a, dim, w, ind, dtype):
    x = np.moveaxis(a, dim, 0)
    if w.shape[1] == 1 and np.all(w == 1):
        return np.moveaxis(x[ind[:, 0]], 0, dim)
    shape = (-1,) + (1,) * (x.ndim - 1)
    acc = w[:, 0].reshape(shape) * x[ind[:, 0]].astype(np.float64)
    for k in range(1, w.shape[1]):
        acc = acc + w[:, k].reshape(shape) * x[ind[:, k]].astype(np.float64)
    return np.moveaxis(_to_class(acc, dtype), 0, dim)


def imresize(a, scale, out_size, method="bicubic", aa=None, border="mirror"):
    """``scale`` and ``out_size`` are both given per dimension (already resolved)."""
    if aa is None:
        aa = method != "nearest"
    logical = a.dtype == np.bool_
    b = a.astype(np.uint8) * np.uint8(255) if logical else a
    plans = [contributions(a.shape[k], out_size[k], scale[k], method, aa, border) for k in (0, 1)]
    nn = [pl[0].shape[1] == 1 and np.all(pl[0] == 1) for pl in plans]
    if all(nn):
        b = b[plans[0][1][:, 0]][:, plans[1][1][:, 0]]
    else:
        order = (0, 1) if scale[0] <= scale[1] else (1, 0)
        for d in order:
            b = resize_dim(b, d, plans[d][0], plans[d][1], b.dtype.type)
    return b > 128 if logical else b
