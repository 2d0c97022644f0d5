"""BNLL (binomial normal log likelihood, i.e. softplus) in Caffe's two-branch form:
``x > 0 ? x + log(1 + exp(-x)) : log(1 + exp(x))`` (double precision, stored as float).

Backward: ``dy * e / (e + 1)`` with ``e = exp(min(x, 50))`` (Caffe's kBNLL_THRESHOLD).
"""
import torch

from ..rules.neuron import BNLL_THRESHOLD
from ._neuron import NeuronLayer, elementwise
from .registry import register_layer


def _fwd(x):
    d = x.double()
    pos = d + torch.log(1.0 + torch.exp(-d.clamp_min(0)))
    neg = torch.log(1.0 + torch.exp(d.clamp_max(0)))
    return torch.where(d > 0, pos, neg).to(x.dtype)


def _bwd(x, y, dy):
    e = torch.exp(torch.clamp_max(x, BNLL_THRESHOLD))
    return dy * (e.double() / (e.double() + 1.0)).to(x.dtype)


@register_layer("BNLL")
class BNLL(NeuronLayer):
    def forward(self, x):
        return elementwise(x, _fwd, _bwd)
