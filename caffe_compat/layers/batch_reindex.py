"""BatchReindex: ``top[i] = bottom[0][bottom[1][i]]`` along the first axis.

Shapes: :mod:`caffe_compat.rules.batch_reindex`. Indices must satisfy ``0 <= idx <
bottom[0].shape[0]`` (checked on the float values, then truncated). The gradient to bottom[0]
accumulates over repeated indices; the index input gets none.
"""
import torch

from .base import Layer
from .registry import register_layer
from ..rules.batch_reindex import batch_reindex_top_shape


@register_layer("BatchReindex")
class BatchReindex(Layer):
    exact_bottoms = 2
    exact_tops = 1
    shapes_at_setup = True

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0

    def top_shapes(self, bottom_shapes):
        return [batch_reindex_top_shape(self.param, bottom_shapes, self.type_name)]

    def forward(self, x, permut):
        permut = permut.detach()
        n = x.shape[0]
        if permut.numel() and (bool((permut < 0).any()) or bool((permut >= n).any())):
            self.fail(f"indices must lie in [0, {n}), got {permut.tolist()}")
        return torch.index_select(x, 0, permut.to(torch.int64))
