"""Tile (:mod:`caffe_compat.rules.tile`): the block from ``axis`` on copied ``tiles`` times;
backward: the copies' diffs added in order (Caffe's copy then axpy per tile)."""
import numpy as np

from ...rules.fields import declare
from ...rules.tile import FIELDS, tile_rule
from ..registry import register
from .base import BottomDiffLayer, need

declare("array", "Tile", "TileParameter", FIELDS)


@register("Tile")
class Tile(BottomDiffLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Tile of one bottom")
        self.rule = tile_rule(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        outer, inner = self.rule.blocks(x.shape)
        out = tops[0].reshape(outer, self.rule.tiles, inner)
        out[...] = x.reshape(outer, 1, inner)

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        outer, inner = self.rule.blocks(dx.shape)
        dy = top_diffs[0].reshape(outer, self.rule.tiles, inner)
        acc = dx.reshape(outer, inner)
        np.copyto(acc, dy[:, 0])
        for t in range(1, self.rule.tiles):
            acc += dy[:, t]
