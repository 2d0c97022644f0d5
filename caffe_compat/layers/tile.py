"""Tile: the block of axes from ``tile_param.axis`` (default 1) on repeated ``tiles`` times
along that axis, i.e. ``shape[axis] *= tiles`` with whole copies one after the other."""
from .base import Layer, canonical_axis
from .registry import register_layer


@register_layer("Tile")
class Tile(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        tp = param.tile_param
        self.axis = canonical_axis(tp.axis, len(self.bottom_shapes[0]), self.name)
        self.tiles = int(tp.tiles)
        if self.tiles <= 0:
            self.fail(f"tiles must be positive, got {tp.tiles}")

    def top_shapes(self, bottom_shapes):
        s = tuple(bottom_shapes[0])
        return [s[:self.axis] + (s[self.axis] * self.tiles,) + s[self.axis + 1:]]

    def forward(self, x):
        reps = [1] * x.dim()
        reps[self.axis] = self.tiles
        return x.repeat(*reps)
