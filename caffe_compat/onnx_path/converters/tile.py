"""Tile (:mod:`caffe_compat.rules.tile`): ONNX's Tile, ``tiles`` copies along ``axis`` (the
block of the axes from it on repeated whole, as Caffe's TileLayer)."""
import numpy as np

from ...rules.tile import FIELDS, tile_rule
from ._common import declare, register

declare("lite", "Tile", "TileParameter", FIELDS)


@register("Tile")
def tile(g, lp, bottoms, blobs):
    x, = bottoms
    rule = tile_rule(lp, [x.shape])
    repeats = np.ones(len(x.shape), np.int64)
    repeats[rule.axis] = rule.tiles
    return [type(x)(g.op("Tile", [x, g.const(repeats)]), rule.top_shape(x.shape))]
