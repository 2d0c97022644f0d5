"""The CPU row's channels-last forms of the layers between the folded convolutions of the
inference plan (:mod:`caffe_compat.inference.fast_inference`), so that no layer converts oneDNN's
layout back to NCHW and the next convolution converts it again (as OpenCV's dnn keeps one layout).
:data:`REPLACERS` gives, by layer type, the callable run in a layer's place in a no-grad forward,
or None where the layer keeps its own forward:

- ``Pooling`` MAX (one top) / AVE, windows torch shares with Caffe (``layers/pooling.py``):
  torch's pooling on a channels-last input, the layer's values (the same element, the same sums).
- ``LRN`` ACROSS_CHANNELS: ``x * (k + alpha / n * sum of x^2 over n channels)^-beta``, the window
  as ``n`` shifted additions of the zero-padded squares, ``s^-0.75`` as
  ``rsqrt(s) * sqrt(rsqrt(s))``: a few float32 roundings from the layer's form (tests bound it).
- ``Concat`` on the channel axis of 4-axis blobs: ``torch.cat`` of channels-last inputs."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..rules import lrn as lrn_rule_module, pooling as pool_rule, registry
from ..rules.fields import ENGINE_FIELD, declare
from ..proto import caffe_pb2

P = caffe_pb2.PoolingParameter
CL = torch.channels_last

# each replacement reads the built layer's values and keeps the layer's forward where it
# has no form (STOCHASTIC or a mask top, WITHIN_CHANNEL, another axis)
declare("fast", "Pooling", "PoolingParameter", pool_rule.FIELDS, no_effect=ENGINE_FIELD)
declare("fast", "LRN", "LRNParameter", lrn_rule_module.FIELDS, no_effect=ENGINE_FIELD)
declare("fast", "Concat", "ConcatParameter", {"axis", "concat_dim"})


def channels_last(x):
    """``x`` (4 axes) as a channels-last tensor whose strides torch reads as channels-last: a
    batch of one keeps the batch stride of the layer that made it (often C), which torch's
    layout test reads as NCHW; the view fixes the stride (the memory is the same)."""
    if x.dim() != 4:
        return x
    if not x.is_contiguous(memory_format=CL):
        return x.contiguous(memory_format=CL)
    n, c, h, w = x.shape
    if n == 1 and x.stride(0) != c * h * w:
        return x.as_strided(x.shape, (c * h * w, 1, w * c, c))
    return x


def _pooling(module, node):
    if len(node.tops) != 1 or module.method not in (P.MAX, P.AVE):
        return None
    stride, pad, ceil, layer = list(module.stride), list(module.pad), module.ceil, module

    def pool(x):
        plan = layer._plan(int(x.shape[2]), int(x.shape[3]))
        if not plan["fast"] or x.dim() != 4:
            return layer(x)
        x = channels_last(x)
        if layer.method == P.MAX:
            return F.max_pool2d(x, plan["k"], stride, pad, ceil_mode=ceil)
        return F.avg_pool2d(x, plan["k"], stride, pad, ceil_mode=ceil, count_include_pad=True)
    return pool


def _lrn(module, node):
    if module.region != caffe_pb2.LRNParameter.ACROSS_CHANNELS:
        return None
    n, pre = module.size, module.pre_pad
    a, k, beta = module.alpha / module.size, module.k, module.beta

    def lrn(x):
        x = channels_last(x)
        sq = x * x
        c = x.shape[1]
        padded = F.pad(sq, (0, 0, 0, 0, pre, pre)) if pre else sq
        s = padded[:, 0:c].clone(memory_format=CL)
        for i in range(1, n):
            s += padded[:, i:i + c]
        s.mul_(a).add_(k)
        if beta == 0.75:
            r = s.rsqrt_()
            return x * r * r.sqrt()
        return x * s.pow_(-beta)
    return lrn


def _concat(module, node):
    if module.axis != 1 or len(module.bottom_shapes[0]) != 4 or len(node.bottoms) < 2:
        return None

    def concat(*xs):
        return torch.cat([channels_last(x) for x in xs], dim=1)
    return concat


REPLACERS = registry.entries("fast")
for _type, _make in (("Pooling", _pooling), ("LRN", _lrn), ("Concat", _concat)):
    registry.add("fast", _type, _make)


def replacement(module, node):
    """The channels-last callable for this layer, or None."""
    make = REPLACERS.get(node.type)
    return make(module, node) if make is not None else None
