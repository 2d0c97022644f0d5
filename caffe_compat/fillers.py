"""Parameter fillers with Caffe's definitions (include/caffe/filler.hpp).

The distributions are Caffe's; the random streams are torch's (a ``torch.Generator``), so values
differ from Caffe's boost mt19937 draws while every statistic matches. Fan computations follow
Caffe, not PyTorch: ``fan_in = count / shape[0]``, ``fan_out = count / shape[1]`` (``count`` for a
1-axis blob), and xavier's default variance_norm is FAN_IN.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .errors import NetError
from .proto import caffe_pb2

_FILLERS = {}


def _filler(name):
    def wrap(fn):
        _FILLERS[name] = fn
        return fn
    return wrap


def _fans(shape):
    n = math.prod(shape)
    fan_in = n // shape[0] if shape and shape[0] else n
    fan_out = n // shape[1] if len(shape) > 1 and shape[1] else n
    return fan_in, fan_out


def _norm_n(fp, shape):
    """Caffe's ``n`` of xavier/msra as float32: fan_in, fan_out or ``(fan_in + fan_out) / 2``."""
    fan_in, fan_out = _fans(shape)
    vn = fp.variance_norm
    if vn == caffe_pb2.FillerParameter.AVERAGE:
        return np.float32(fan_in + fan_out) / np.float32(2)
    if vn == caffe_pb2.FillerParameter.FAN_OUT:
        return np.float32(fan_out)
    return np.float32(fan_in)


@_filler("constant")
def _constant(t, fp, gen):
    t.fill_(fp.value)


@_filler("uniform")
def _uniform(t, fp, gen):
    if fp.max < fp.min:
        raise NetError(f"uniform filler: max ({fp.max}) < min ({fp.min})")
    t.uniform_(fp.min, fp.max, generator=gen)


@_filler("gaussian")
def _gaussian(t, fp, gen):
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
def _positive_unitball(t, fp, gen):
    t.uniform_(0.0, 1.0, generator=gen)
    rows = t.view(t.shape[0] if t.dim() else 1, -1)
    rows.div_(rows.sum(dim=1, keepdim=True))


@_filler("xavier")
def _xavier(t, fp, gen):
    scale = float(np.sqrt(np.float32(3) / _norm_n(fp, tuple(t.shape))))
    t.uniform_(-scale, scale, generator=gen)


@_filler("msra")
def _msra(t, fp, gen):
    std = float(np.sqrt(np.float32(2) / _norm_n(fp, tuple(t.shape))))
    t.normal_(0.0, std, generator=gen)


@_filler("bilinear")
def _bilinear(t, fp, gen):
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


def fill(tensor, filler_param, generator=None, where=""):
    """Fill ``tensor`` in place as Caffe's filler ``filler_param.type`` would."""
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
                fn(tensor, filler_param, generator)
            else:
                tmp = torch.empty(tensor.shape, dtype=torch.float32)
                fn(tmp, filler_param, generator)
                tensor.copy_(tmp)
    except (RuntimeError, ValueError, ZeroDivisionError, OverflowError) as e:
        # torch refuses what Caffe's CHECKs refuse (std <= 0, infinite bounds, ...)
        raise NetError(f"{where}: {filler_param.type} filler cannot fill a blob of shape "
                       f"{tuple(tensor.shape)}: {e}") from None
    return tensor


def filler_types():
    return sorted(_FILLERS)
