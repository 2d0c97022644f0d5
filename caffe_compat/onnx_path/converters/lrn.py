"""LRN: across channels ONNX's LRN, which is Caffe's formula for odd sizes; within a channel
Caffe's WithinChannelForward as nodes: ``x * (1 + alpha * AveragePool(x^2))^-beta``, the n x n
window zero-padded by (n - 1) / 2 and divided by n^2 everywhere (``count_include_pad``). The
parameters and refusals from :mod:`caffe_compat.rules.lrn`."""
import numpy as np

from ...rules.lrn import ACROSS_CHANNELS, FIELDS, lrn_rule
from ._common import ENGINE_FIELD, declare, elementwise

declare("lite", "LRN", "LRNParameter", FIELDS, no_effect=ENGINE_FIELD)


@elementwise("LRN")
def lrn(g, lp, x, blobs):
    rule = lrn_rule(lp, [x.shape])
    if rule.region != ACROSS_CHANNELS:
        n, pad = rule.size, rule.pre_pad
        mean = g.op("AveragePool", [g.op("Mul", [x, x])],
                    {"kernel_shape": [n, n], "strides": [1, 1], "pads": [pad] * 4,
                     "count_include_pad": 1})
        scale = g.op("Add", [g.op("Mul", [mean, g.const(np.array(rule.alpha, np.float32))]),
                             g.const(np.array(1.0, np.float32))])
        powed = g.op("Pow", [scale, g.const(np.array(-rule.beta, np.float32))])
        return g.op("Mul", [x, powed])
    return g.op("LRN", [x], {"size": rule.size, "alpha": rule.alpha, "beta": rule.beta,
                             "bias": rule.k})
