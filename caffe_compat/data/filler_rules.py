"""Caffe's filler rules that need no torch (include/caffe/filler.hpp): the fans of a blob
(``fan_in = count / shape[0]``, ``fan_out = count / shape[1]``), xavier's and msra's ``n``, and
``caffe_rng_uniform``'s draws from Caffe's stream; :mod:`caffe_compat.layers.fillers` fills
torch tensors with them, :mod:`caffe_compat.array_net` numpy arrays."""
from __future__ import annotations

import math

import numpy as np

from ..proto import caffe_pb2


def as_fillers(fillers):
    """FillerParameters of a rule's ``fillers()``: a filler message as it is, a number as
    Caffe's default constant filler of that value."""
    return [f if isinstance(f, caffe_pb2.FillerParameter)
            else caffe_pb2.FillerParameter(type="constant", value=float(f)) for f in fillers]


def fans(shape):
    n = math.prod(shape)
    fan_in = n // shape[0] if shape and shape[0] else n
    fan_out = n // shape[1] if len(shape) > 1 and shape[1] else n
    return fan_in, fan_out


def norm_n(fp, shape):
    """Caffe's ``n`` of xavier/msra as float32: fan_in, fan_out or ``(fan_in + fan_out) / 2``."""
    fan_in, fan_out = fans(shape)
    vn = fp.variance_norm
    if vn == caffe_pb2.FillerParameter.AVERAGE:
        return np.float32(fan_in + fan_out) / np.float32(2)
    if vn == caffe_pb2.FillerParameter.FAN_OUT:
        return np.float32(fan_out)
    return np.float32(fan_in)


def caffe_rng_uniform(rng, count, low, high, dtype=np.float32):
    """Caffe's ``caffe_rng_uniform(count, low, high)`` (util/math_functions.cpp) from the
    mt19937 ``rng``: ``boost::uniform_real<Dtype>(low, nextafter(high))``, whose
    generate_uniform_real turns each 32-bit output ``u`` into
    ``Dtype(u) / Dtype(2**32) * (upper - low) + low`` and draws again when that reaches
    ``upper``."""
    dtype = np.dtype(dtype).type
    low = dtype(low)
    upper = np.nextafter(dtype(high), dtype(np.inf))
    span = dtype(upper - low)
    divisor = dtype(4294967296.0)
    kept = []
    needed = int(count)
    while needed:
        values = rng.draw(needed).astype(dtype) / divisor * span + low
        values = values[values < upper]     # the rejected draws are consumed, as in boost
        kept.append(values)
        needed -= values.size
    return np.concatenate(kept) if kept else np.empty(0, dtype)
