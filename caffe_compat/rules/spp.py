"""Caffe's SPPLayer rules (spp_layer.cpp), read by every engine: ``spp_param``'s
``pyramid_height`` (at least 1) and ``pool`` (MAX, AVE, STOCHASTIC), over a 4-axis bottom of
positive height and width.

Level ``l`` (0 .. pyramid_height - 1) has ``2^l`` bins per side and is an ordinary Caffe
Pooling (:mod:`.pooling`, whose rules and refusals apply) with, per spatial axis of size ``s``:
``kernel = stride = ceil(s / 2^l)`` and ``pad = (kernel 2^l - s + 1) // 2``. Each level's
output is flattened to (N, C bins) and the levels are concatenated along axis 1: top
``(N, sum of C bins)``; with ``pyramid_height: 1`` the single level's (N, C, 1, 1) unflattened.
"""
from __future__ import annotations

import math

from ..errors import NetError
from .pooling import pooling_rule
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"pyramid_height", "pool"})


def level_geometry(level, size):
    """(kernel, stride, pad) of pyramid ``level`` along an axis of ``size``."""
    bins = 2 ** level
    kernel = math.ceil(size / bins)
    return kernel, kernel, (kernel * bins - size + 1) // 2


@frozen
class SPPRule:
    layer: object
    height: int             # pyramid_height
    method: int             # the levels' PoolingParameter.pool (SPP's values are Pooling's)

    def levels(self, shape):
        """``[(LayerParameter, its pooling rule record)]``: the Pooling of each level for a
        bottom of ``shape``, refusing a level Pooling refuses."""
        from ..proto import caffe_pb2  # here, not at import: the rules load without protobuf
        shape = tuple(int(d) for d in shape)
        if len(shape) != 4:
            refuse(self.layer, f"bottom must have 4 axes (num, channels, height, width), got "
                   f"{shape}")
        h, w = shape[2:]
        if h <= 0 or w <= 0:
            refuse(self.layer, f"input height and width must be positive, got {shape}")
        out = []
        for level in range(self.height):
            (kh, sh, ph), (kw, sw, pw) = level_geometry(level, h), level_geometry(level, w)
            lp = caffe_pb2.LayerParameter(name=f"{self.layer.name}/level{level}",
                                          type="Pooling", bottom=self.layer.bottom[:1],
                                          top=[f"{self.layer.name}/level{level}"])
            pp = lp.pooling_param
            pp.pool, pp.kernel_h, pp.kernel_w = self.method, kh, kw
            pp.stride_h, pp.stride_w, pp.pad_h, pp.pad_w = sh, sw, ph, pw
            try:
                out.append((lp, pooling_rule(lp, [shape])))
            except NetError as e:
                refuse(self.layer, f"pyramid level {level} (kernel {kh}x{kw}, stride "
                       f"{sh}x{sw}, pad {ph}x{pw}) is not valid for a {h}x{w} input: {e}")
        return out

    def top_shape(self, shape):
        tops = [rule.top_shape(shape) for _, rule in self.levels(shape)]
        if self.height == 1:
            return tops[0]
        return (int(shape[0]), sum(math.prod(t[1:]) for t in tops))


def spp_rule(layer, bottom_shapes=None):
    sp = layer.spp_param
    if sp.pyramid_height < 1:
        refuse(layer, f"pyramid_height must be at least 1, got {sp.pyramid_height}",
               "spp_param.pyramid_height")
    return SPPRule(layer, int(sp.pyramid_height), int(sp.pool))
