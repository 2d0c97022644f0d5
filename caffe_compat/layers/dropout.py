"""Dropout (the rule in :mod:`caffe_compat.rules.dropout`): TRAIN's mask drawn by torch's
Bernoulli sampler on the layer's generator (per shard of a data-parallel batch)."""
import torch

from ..parallel import data_parallel as parallel
from .base import Layer
from .registry import register_layer
from ..rules.dropout import FIELDS, dropout_rule
from ..rules.fields import declare

declare("torch", "Dropout", "DropoutParameter", FIELDS)


@register_layer("Dropout")
class Dropout(Layer):
    rule_of = staticmethod(dropout_rule)
    keeps_signs = True          # in place after a ReLU, it leaves ReLU's backward as it was
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.ratio, self.scale_train = self.rule.ratio, self.rule.scale_train
        self.generator = None

    item_wise = property(lambda self: self.phase != "TRAIN" or self.ratio == 0.0)

    def forward(self, x):
        if self.phase != "TRAIN" or self.ratio == 0.0:
            scale = self.rule.test_scale()
            return x if scale is None else x * scale
        rank, count = parallel.shard(self.phase)
        if count > 1:   # rows rank::N of the mask of the whole N x B batch (parallel.py)
            full = x.new_empty((x.shape[0] * count,) + tuple(x.shape[1:]))
            keep = full.bernoulli_(1.0 - self.ratio, generator=self.generator)[rank::count]
        else:
            keep = torch.empty_like(x).bernoulli_(1.0 - self.ratio, generator=self.generator)
        if not self.scale_train:
            return x * keep
        return x * keep * (1.0 / (1.0 - self.ratio))
