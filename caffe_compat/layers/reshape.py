"""Reshape: a new shape for the same data (Caffe's ReshapeLayer).

``reshape_param.shape`` replaces the bottom axes ``[axis, axis + num_axes)`` (``axis`` default 0,
negative values count from the end with -1 meaning "after the last axis"; ``num_axes`` default -1
= to the end). In ``shape`` a 0 copies the bottom dimension at the same position (``axis + i``)
and a single -1 is inferred from the element count. An empty ``shape`` over the whole blob gives
a 0-d blob. In-place use is an error, as in Caffe.
"""
from .base import Layer, count
from .registry import register_layer


@register_layer("Reshape")
class Reshape(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rp = param.reshape_param
        if list(param.top) == list(param.bottom):
            self.fail("Reshape does not allow in-place computation (top == bottom)")
        self.dims = [int(d) for d in rp.shape.dim]
        if any(d < -1 for d in self.dims):
            self.fail(f"shape dimensions must be >= -1 (0 = copy, -1 = infer), got {self.dims}")
        if self.dims.count(-1) > 1:
            self.fail(f"at most one -1 may be given in the new shape, got {self.dims}")
        if rp.num_axes < -1:
            self.fail(f"num_axes must be >= 0, or -1 for all remaining axes, got {rp.num_axes}")
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self._shape(tuple(bottom_shapes[0]))]

    def _shape(self, shape):
        rp = self.param.reshape_param
        n = len(shape)
        start = rp.axis if rp.axis >= 0 else n + rp.axis + 1
        if not 0 <= start <= n:
            self.fail(f"axis {rp.axis} out of range for a {n}-axis bottom")
        end = n if rp.num_axes == -1 else start + rp.num_axes
        if end > n:
            self.fail(f"axis + num_axes = {end} is out of range for a {n}-axis bottom")
        new = list(self.dims)
        for i, d in enumerate(self.dims):
            if d == 0:
                if start + i >= n:
                    self.fail(f"new shape {self.dims} has a 0 at position {i} but the bottom "
                              f"{shape} has no axis {start + i} to copy")
                new[i] = shape[start + i]
        top = list(shape[:start]) + new + list(shape[end:])
        total = count(shape)
        if -1 in new:
            known = count([d for d in top if d != -1])
            if known == 0 or total % known:
                self.fail(f"bottom count {total} (shape {shape}) is not divisible by the "
                          f"product {known} of the specified dimensions {self.dims}")
            top[top.index(-1)] = total // known
        if count(top) != total:
            self.fail(f"new shape {tuple(top)} has {count(top)} elements, the bottom {shape} "
                      f"has {total}")
        return tuple(top)

    def forward(self, x):
        return x.reshape(self._shape(tuple(x.shape)))
