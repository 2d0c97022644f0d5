"""Parameter fillers with Caffe's definitions (include/caffe/filler.hpp).

The distributions are Caffe's. Given Caffe's stream (``caffe_rng``, the boost mt19937 of
``Caffe::set_random_seed``, caffe_compat.data.caffe_random), the uniform, xavier and
positive_unitball fillers take Caffe's very draws: ``caffe_rng_uniform(n, a, b)`` is
``boost::uniform_real<Dtype>(a, nextafter(b))``, one 32-bit output ``u`` per value,
``u / 2**32 * (nextafter(b) - a) + a`` in Dtype arithmetic, redrawn when it reaches the upper
bound. The gaussian and msra fillers draw from a torch generator (boost's ziggurat normal is not
reproduced), so their values differ from Caffe's while every statistic matches, and they leave
Caffe's stream where it was. Fan computations follow Caffe, not PyTorch:
``fan_in = count / shape[0]``, ``fan_out = count / shape[1]`` (``count`` for a 1-axis blob), and
xavier's default variance_norm is FAN_IN.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..data.filler_rules import caffe_rng_uniform, norm_n as _norm_n
from ..errors import NetError

_FILLERS = {}


def _filler(name):
    def wrap(fn):
        _FILLERS[name] = fn
        return fn
    return wrap


def _uniform_into(t, low, high, gen, caffe_rng):
    """``t`` filled with U(low, high): Caffe's draws when its stream is given."""
    if caffe_rng is None:
        t.uniform_(float(low), float(high), generator=gen)
        return
    dtype = np.float64 if t.dtype == torch.float64 else np.float32
    values = caffe_rng_uniform(caffe_rng, t.numel(), low, high, dtype)
    t.copy_(torch.from_numpy(values.reshape(tuple(t.shape))))


@_filler("constant")
def _constant(t, fp, gen, caffe_rng=None):
    t.fill_(fp.value)


@_filler("uniform")
def _uniform(t, fp, gen, caffe_rng=None):
    if fp.max < fp.min:
        raise NetError(f"uniform filler: max ({fp.max}) < min ({fp.min})")
    dtype = np.float64 if t.dtype == torch.float64 else np.float32
    _uniform_into(t, dtype(fp.min), dtype(fp.max), gen, caffe_rng)


@_filler("gaussian")
def _gaussian(t, fp, gen, caffe_rng=None):
    """N(mean, std); with ``sparse >= 0`` each value is kept with probability
    ``sparse / shape[0]`` (Caffe's sparse gaussian, a Bernoulli mask)."""
    t.normal_(fp.mean, fp.std, generator=gen)
    if fp.sparse >= 0:
        if t.dim() < 1:
            raise NetError("sparse gaussian filler needs a blob with at least one axis")
        p = fp.sparse / t.shape[0]
        if p > 1:
            raise NetError(f"sparse gaussian filler: sparse ({fp.sparse}) exceeds the number of "
                           f"outputs ({t.shape[0]}), so the keep probability would be {p:g} > 1")
        mask = torch.empty_like(t).bernoulli_(p, generator=gen)
        t.mul_(mask)


@_filler("positive_unitball")
def _positive_unitball(t, fp, gen, caffe_rng=None):
    """U(0, 1), then each of the ``shape[0]`` rows divided by its sum (Caffe sums a row from
    its first value to its last)."""
    _uniform_into(t, 0.0, 1.0, gen, caffe_rng)
    rows = t.view(t.shape[0] if t.dim() else 1, -1)
    sums = torch.from_numpy(np.add.accumulate(rows.numpy(), axis=1)[:, -1:].copy())
    rows.div_(sums)


@_filler("xavier")
def _xavier(t, fp, gen, caffe_rng=None):
    """U(-scale, scale), ``scale = sqrt(3 / n)`` in Dtype arithmetic."""
    dtype = np.float64 if t.dtype == torch.float64 else np.float32
    scale = np.sqrt(dtype(3) / dtype(_norm_n(fp, tuple(t.shape))))
    _uniform_into(t, -scale, scale, gen, caffe_rng)


@_filler("msra")
def _msra(t, fp, gen, caffe_rng=None):
    std = float(np.sqrt(np.float32(2) / _norm_n(fp, tuple(t.shape))))
    t.normal_(0.0, std, generator=gen)


@_filler("bilinear")
def _bilinear(t, fp, gen, caffe_rng=None):
    """Caffe's BilinearFiller in float32: ``f = ceil(k / 2)``, ``c = (k - 1) / (2 f)``,
    ``w[.., y, x] = (1 - |x / f - c|) * (1 - |y / f - c|)`` for every (n, c) plane."""
    if t.dim() != 4 or t.shape[2] != t.shape[3]:
        raise NetError(f"bilinear filler needs a 4-axis blob with square kernels, got "
                       f"{tuple(t.shape)}")
    k = t.shape[3]
    f = math.ceil(k / 2.0)
    c = np.float32((k - 1) / (2.0 * f))
    ax = np.float32(1) - np.abs(np.arange(k, dtype=np.float32) / np.float32(f) - c)
    plane = torch.from_numpy(np.multiply.outer(ax, ax).astype(np.float32))
    t.copy_(plane.expand_as(t))


def fill(tensor, filler_param, generator=None, where="", caffe_rng=None):
    """Fill ``tensor`` in place as Caffe's filler ``filler_param.type`` would; with
    ``caffe_rng`` (Caffe's stream) the uniform fillers take Caffe's draws from it."""
    try:
        fn = _FILLERS[filler_param.type]
    except KeyError:
        raise NetError(f"{where}: unknown filler type '{filler_param.type}' (known: "
                       f"{', '.join(sorted(_FILLERS))})") from None
    if filler_param.type not in ("gaussian",) and filler_param.sparse != -1:
        raise NetError(f"{where}: sparse is only supported by the gaussian filler (type "
                       f"'{filler_param.type}' has sparse: {filler_param.sparse})")
    if filler_param.type == "gaussian" and filler_param.sparse < -1:
        raise NetError(f"{where}: gaussian filler sparse must be >= -1, got "
                       f"{filler_param.sparse}")
    if tensor.numel() == 0:
        # nothing to draw (Caffe fills no values); xavier/msra would divide by a zero fan
        return tensor
    try:
        with torch.no_grad():
            if tensor.dtype in (torch.float32, torch.float64):
                fn(tensor, filler_param, generator, caffe_rng)
            else:
                tmp = torch.empty(tensor.shape, dtype=torch.float32)
                fn(tmp, filler_param, generator, caffe_rng)
                tensor.copy_(tmp)
    except (RuntimeError, ValueError, ZeroDivisionError, OverflowError) as e:
        # torch refuses what Caffe's CHECKs refuse (std <= 0, infinite bounds, ...)
        raise NetError(f"{where}: {filler_param.type} filler cannot fill a blob of shape "
                       f"{tuple(tensor.shape)}: {e}") from None
    return tensor


def filler_types():
    return sorted(_FILLERS)


# ---------------------------------------------------------------- drawn values, remembered
# Values drawn from an unseeded stream differ from run to run: a cache keyed by the weights
# (the engines' ONNX exports, caffe_compat.inference.engines.cache) must not keep what no later run can
# ask for again. The fillers below draw; constant and bilinear give the same values every run.
RANDOM_FILLERS = frozenset({"uniform", "gaussian", "positive_unitball", "xavier", "msra"})
_SAMPLE = 16                   # values from each end of a blob
_DRAWN_KEPT = 1 << 16          # fingerprints remembered (the oldest go first)
_drawn = {}


def _fingerprint(tensor):
    """Shape, dtype and the first and last :data:`_SAMPLE` values of ``tensor``: enough to tell
    a blob that still holds (a copy of) what a filler drew from every other blob in practice,
    at a cost independent of its size."""
    flat = tensor.detach().reshape(-1)
    ends = torch.cat([flat[:_SAMPLE], flat[-_SAMPLE:]]) if flat.numel() > 2 * _SAMPLE else flat
    return (tuple(tensor.shape), str(tensor.dtype), ends.to("cpu").numpy().tobytes())


def remember_drawn(tensor):
    """Record that ``tensor`` holds values drawn from an unseeded stream."""
    if tensor.numel():
        _drawn[_fingerprint(tensor)] = None
        while len(_drawn) > _DRAWN_KEPT:
            del _drawn[next(iter(_drawn))]


def forget_drawn(tensor):
    """Record that ``tensor``'s values come from a seeded stream: any run can draw them again
    (an unseeded net of this process may have drawn the same values before, its stream started
    from the seed the program gave torch)."""
    if _drawn and tensor.numel():
        _drawn.pop(_fingerprint(tensor), None)


def is_drawn(tensor):
    """True when ``tensor`` holds values (or a copy of values) :func:`remember_drawn` saw."""
    return bool(_drawn) and tensor.numel() > 0 and _fingerprint(tensor) in _drawn
