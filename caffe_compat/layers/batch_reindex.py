"""BatchReindex: ``top[i] = bottom[0][bottom[1][i]]`` along the first axis.

``bottom[1]`` must have exactly one axis; the top shape is ``(len(bottom[1]),) +
bottom[0].shape[1:]``. Indices must satisfy ``0 <= idx < bottom[0].shape[0]`` (checked on the
float values, then truncated). The gradient to bottom[0] accumulates over repeated indices; the
index input gets none.
"""
import torch

from .base import Layer
from .registry import register_layer


@register_layer("BatchReindex")
class BatchReindex(Layer):
    exact_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes(self.bottom_shapes)

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0

    def top_shapes(self, bottom_shapes):
        data, idx = (tuple(s) for s in bottom_shapes)
        if len(idx) != 1:
            self.fail(f"the index bottom must have exactly one axis, got shape {idx}")
        if len(data) < 1:
            self.fail("the data bottom needs at least one axis")
        return [(idx[0],) + data[1:]]

    def forward(self, x, permut):
        permut = permut.detach()
        n = x.shape[0]
        if permut.numel() and (bool((permut < 0).any()) or bool((permut >= n).any())):
            self.fail(f"indices must lie in [0, {n}), got {permut.tolist()}")
        return torch.index_select(x, 0, permut.to(torch.int64))
