"""Slice: one bottom cut along ``slice_param.axis`` (default 1) into the tops.

``slice_point`` lists the (strictly increasing) cut positions, one fewer than the tops; without
points the axis is split into equal parts and must divide evenly by the number of tops. The legacy
``slice_dim`` is an alias of a non-negative axis; giving both is an error, as in Caffe.
"""
from .base import Layer, canonical_axis
from .registry import register_layer


@register_layer("Slice")
class Slice(Layer):
    exact_bottoms = 1
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        sp = param.slice_param
        if sp.HasField("axis") and sp.HasField("slice_dim"):
            self.fail("give either axis or slice_dim (deprecated), not both")
        self.points = [int(p) for p in sp.slice_point]
        shape = self.bottom_shapes[0]
        if sp.HasField("slice_dim"):
            if sp.slice_dim >= len(shape):
                self.fail(f"slice_dim {sp.slice_dim} out of range for a {len(shape)}-axis bottom "
                          f"(expected 0 <= slice_dim < {len(shape)})")
            self.axis = int(sp.slice_dim)
        else:
            self.axis = canonical_axis(sp.axis, len(shape), self.name)
        self.sizes(shape[self.axis])

    def sizes(self, length):
        """Sizes of the slices of an axis of ``length`` (Caffe's Reshape rules)."""
        n = len(self.param.top)
        if self.points:
            if len(self.points) != n - 1:
                self.fail(f"{len(self.points)} slice_point(s) given for {n} tops "
                          f"(expected {n - 1})")
            if n > length:
                self.fail(f"{n} tops cannot slice an axis of size {length}")
            prev, out = 0, []
            for p in self.points:
                if p <= prev:
                    self.fail(f"slice points must be positive and increasing, got {self.points}")
                out.append(p - prev)
                prev = p
            if prev > length:
                self.fail(f"slice point {prev} is beyond the axis size {length}")
            out.append(length - prev)
            return out
        if length % n:
            self.fail(f"the number of tops ({n}) must evenly divide the slice axis size "
                      f"({length}) when no slice_point is given")
        return [length // n] * n

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        a = self.axis
        return [shape[:a] + (s,) + shape[a + 1:] for s in self.sizes(shape[a])]

    def forward(self, x):
        parts = x.split(self.sizes(x.shape[self.axis]), dim=self.axis)
        return parts[0] if len(parts) == 1 else tuple(parts)
