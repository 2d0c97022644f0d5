"""Dropout: identity in TEST; in TRAIN keeps each value with probability ``1 - ratio`` and scales
the kept ones by ``1 / (1 - ratio)`` at train time (Caffe's DropoutLayer).

``scale_train: false`` (Faster R-CNN's Caffe, in OpenCV's fork of the schema) moves the scaling
to TEST: TRAIN keeps values unscaled, TEST multiplies by ``1 - ratio`` (as OpenCV 4 dnn does)."""
import torch

from ..parallel import data_parallel as parallel
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Dropout", "DropoutParameter", {"dropout_ratio", "scale_train"})


@register_layer("Dropout")
class Dropout(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.ratio = float(param.dropout_param.dropout_ratio)
        if not 0.0 <= self.ratio < 1.0:
            self.fail(f"dropout_ratio must be in [0, 1), got {self.ratio}")
        self.scale_train = param.dropout_param.scale_train
        self.generator = None

    def per_item(self):
        return self.phase != "TRAIN" or self.ratio == 0.0

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        if self.phase != "TRAIN" or self.ratio == 0.0:
            return x if self.scale_train else x * (1.0 - self.ratio)
        rank, count = parallel.shard(self.phase)
        if count > 1:   # rows rank::N of the mask of the whole N x B batch (parallel.py)
            full = x.new_empty((x.shape[0] * count,) + tuple(x.shape[1:]))
            keep = full.bernoulli_(1.0 - self.ratio, generator=self.generator)[rank::count]
        else:
            keep = torch.empty_like(x).bernoulli_(1.0 - self.ratio, generator=self.generator)
        if not self.scale_train:
            return x * keep
        return x * keep * (1.0 / (1.0 - self.ratio))
