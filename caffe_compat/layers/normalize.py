"""Normalize (SSD's NormalizeBBox; the rule in :mod:`caffe_compat.rules.normalize`) on torch,
registered as Normalize and NormalizeBBox (OpenCV's two names). Backward: autograd.
"""
import torch

from .base import Layer
from .registry import register_layer
from ..rules.fields import declare
from ..rules.normalize import FIELDS, normalize_rule

declare("torch", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        FIELDS)


@register_layer("Normalize")
class Normalize(Layer):
    rule_of = staticmethod(normalize_rule)
    blob_names = ("scale",)
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.across_spatial, self.eps = rule.across_spatial, rule.eps
        self.channel_shared = rule.channel_shared
        self.add_blob("scale", rule.scale_shape())

    def forward(self, x):
        squares = x * x
        if self.across_spatial:
            total = squares.reshape(x.shape[0], -1).sum(1)
            norm = torch.sqrt(total + self.eps).reshape((-1,) + (1,) * (x.dim() - 1))
        else:
            norm = torch.sqrt(squares.sum(1, keepdim=True) + self.eps)
        y = x / norm
        if self.channel_shared:
            return y * self.scale[0]
        return y * self.scale.reshape((1, -1) + (1,) * (x.dim() - 2))


@register_layer("NormalizeBBox")
class NormalizeBBox(Normalize):
    """OpenCV's second name for Normalize."""
