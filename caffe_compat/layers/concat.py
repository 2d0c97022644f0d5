"""Concat: bottoms joined along ``concat_param.axis`` (default 1; negative counts from the end).

The legacy ``concat_dim`` is an alias of a non-negative axis; giving both is an error, as in
Caffe. All bottoms need the same number of axes and equal sizes except on the joined axis.
"""
import torch

from .base import Layer, canonical_axis
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Concat", "ConcatParameter", {"axis", "concat_dim"})


@register_layer("Concat")
class Concat(Layer):
    min_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        cp = param.concat_param
        if cp.HasField("axis") and cp.HasField("concat_dim"):
            self.fail("give either axis or concat_dim (deprecated), not both")
        self.axis = self._axis(self.bottom_shapes[0])
        self.top_shapes(self.bottom_shapes)

    def _axis(self, shape):
        cp = self.param.concat_param
        if cp.HasField("concat_dim"):
            if cp.concat_dim >= len(shape):
                self.fail(f"concat_dim {cp.concat_dim} out of range for a {len(shape)}-axis "
                          f"bottom (expected 0 <= concat_dim < {len(shape)})")
            return int(cp.concat_dim)
        return canonical_axis(cp.axis, len(shape), self.name)

    def top_shapes(self, bottom_shapes):
        first = tuple(bottom_shapes[0])
        axis = self._axis(first)
        total = 0
        for s in bottom_shapes:
            if len(s) != len(first):
                self.fail(f"all bottoms must have the same number of axes, got {bottom_shapes}")
            if any(a != b for j, (a, b) in enumerate(zip(s, first)) if j != axis):
                self.fail(f"all bottoms must have the same shape except on axis {axis}, "
                          f"got {bottom_shapes}")
            total += s[axis]
        return [first[:axis] + (total,) + first[axis + 1:]]

    def forward(self, *bottoms):
        if len(bottoms) == 1:
            return bottoms[0].view_as(bottoms[0])
        return torch.cat(bottoms, dim=self.axis)
