"""Weights, input indices and pass plans of MATLAB's ``imresize`` (its ``contributions``).

Per dimension, weights ``h(u - j)`` for the input pixels ``j = left .. left+P-1`` around
``u = x/scale + 0.5*(1 - 1/scale)``, ``P = ceil(width) + 2``; when shrinking with antialiasing the
kernel is stretched, ``h(x) = scale*kernel(scale*x)`` and ``width = width/scale``; each row of
weights is divided by its sum, accumulated left to right; all-zero weight columns are dropped;
out-of-range indices are mirrored (``[1:n, n:-1:1]``, MATLAB R2016a+) or, with
``border="replicate"``, clamped to ``[1, n]`` as in older releases. A plan adds the periodic
structure of rational scales that the passes (:mod:`.resize_passes`) exploit.
"""
import functools
import math

import numpy as np

from .errors import PortError
from .resize_kernels import METHODS, _parse_method

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
