"""Tile (:mod:`caffe_compat.rules.tile`): the block from ``axis`` on copied ``tiles`` times;
backward: the copies' diffs added in order (Caffe's copy then axpy per tile)."""
import numpy as np

from ...rules.fields import declare
from ...rules.tile import FIELDS, tile_rule
from ..registry import register
from .base import BottomDiffLayer

declare("array", "Tile", "TileParameter", FIELDS)


@register("Tile")
class Tile(BottomDiffLayer):
    one_bottom = True
    rule_of = staticmethod(tile_rule)

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
