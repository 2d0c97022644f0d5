"""Tile (:mod:`caffe_compat.rules.tile`): ONNX's Tile, ``tiles`` copies along ``axis`` (the
block of the axes from it on repeated whole, as Caffe's TileLayer)."""
import numpy as np

from ...rules import tile as tile_rule_module
from ...rules.fields import declare
from ...rules.tile import tile_rule
from ._common import register

declare("lite", "Tile", "TileParameter", tile_rule_module.FIELDS)


@register("Tile")
def tile(g, lp, bottoms, blobs):
    x, = bottoms
    rule = tile_rule(lp, [x.shape])
    repeats = np.ones(len(x.shape), np.int64)
    repeats[rule.axis] = rule.tiles
    return [type(x)(g.op("Tile", [x, g.const(repeats)]), rule.top_shape(x.shape))]
