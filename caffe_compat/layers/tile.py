"""Tile: the block of axes from ``tile_param.axis`` (default 1) on repeated ``tiles`` times
along that axis, i.e. ``shape[axis] *= tiles`` with whole copies one after the other."""
from ..rules.fields import declare
from ..rules.tile import FIELDS, tile_rule
from .base import Layer
from .registry import register_layer

declare("torch", "Tile", "TileParameter", FIELDS)


@register_layer("Tile")
class Tile(Layer):
    rule_of = staticmethod(tile_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.axis, self.tiles = self.rule.axis, self.rule.tiles

    def forward(self, x):
        reps = [1] * x.dim()
        reps[self.axis] = self.tiles
        return x.repeat(*reps)
