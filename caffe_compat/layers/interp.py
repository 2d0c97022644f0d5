"""Interp (PSPNet / DeepLab / ICNet Caffe forks; the rules in :mod:`caffe_compat.rules.interp`):
torch's bilinear resize with aligned corners of the cropped input. Backward: autograd.
"""
import torch.nn.functional as F

from .base import Layer
from .registry import register_layer
from ..rules.fields import declare
from ..rules.interp import FIELDS, interp_rule

declare("torch", "Interp", "InterpParameter", FIELDS)


@register_layer("Interp")
class Interp(Layer):
    rule_of = staticmethod(interp_rule)
    rule_reads_bottoms = True
    min_bottoms = 1
    max_bottoms = 2
    exact_tops = 1
    item_wise = True

    def forward(self, x, reference=None):
        shapes = [tuple(x.shape)] + ([tuple(reference.shape)] if reference is not None else [])
        size = self.rule.size(shapes)
        first, h, w = self.rule.cropped(x.shape)
        x = x[:, :, first:first + h, first:first + w]
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
