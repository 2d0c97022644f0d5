"""Flatten: axes ``axis`` .. ``end_axis`` (defaults 1 and -1, negative counting from the end)
merged into one; the other axes are kept.

As in Caffe, ``end_axis == axis - 1`` is accepted and inserts an axis of size 1 at ``axis``; an
earlier ``end_axis`` is an error, and so is in-place use.
"""
from .base import Layer, canonical_axis, count
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Flatten", "FlattenParameter", {"axis", "end_axis"})


@register_layer("Flatten")
class Flatten(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        if list(param.top) == list(param.bottom):
            self.fail("Flatten does not allow in-place computation (top == bottom)")
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self._shape(tuple(bottom_shapes[0]))]

    def _shape(self, shape):
        fp = self.param.flatten_param
        start = canonical_axis(fp.axis, len(shape), self.name, "axis")
        end = canonical_axis(fp.end_axis, len(shape), self.name, "end_axis")
        if end + 1 < start:
            self.fail(f"end_axis ({fp.end_axis} -> {end}) must not come before axis "
                      f"({fp.axis} -> {start}) - 1 for bottom shape {shape}")
        return shape[:start] + (count(shape, start, end + 1),) + shape[end + 1:]

    def forward(self, x):
        return x.reshape(self._shape(tuple(x.shape)))
