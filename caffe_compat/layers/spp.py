"""SPP: spatial pyramid pooling (Caffe's SPPLayer) over a 4-axis bottom.

Level ``l`` (0 .. pyramid_height - 1) has ``2^l`` bins per side and is an ordinary Caffe Pooling
with, per spatial axis of size ``s``: ``kernel = stride = ceil(s / 2^l)`` and
``pad = (kernel * 2^l - s + 1) // 2`` (so Pooling's ceil rounding, the padded-window rule and the
check ``pad < kernel`` all apply). Each level's output is flattened to (N, C * bins) and the levels
are concatenated along axis 1. With ``pyramid_height: 1`` Caffe returns the single pooling output
unflattened, (N, C, 1, 1); so does this module.
"""
import math

import torch

from ..proto import caffe_pb2
from .base import Layer
from .pooling import Pooling
from .registry import register_layer
from ..rules.fields import ENGINE_FIELD, declare

declare("torch", "SPP", "SPPParameter", {"pyramid_height", "pool"}, no_effect=ENGINE_FIELD)

S = caffe_pb2.SPPParameter
P = caffe_pb2.PoolingParameter
_METHOD = {S.MAX: P.MAX, S.AVE: P.AVE, S.STOCHASTIC: P.STOCHASTIC}


def level_geometry(level, size):
    """(kernel, stride, pad) of pyramid ``level`` along an axis of ``size``."""
    bins = 2 ** level
    kernel = math.ceil(size / bins)
    pad = (kernel * bins - size + 1) // 2
    return kernel, kernel, pad


@register_layer("SPP")
class SPP(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        sp = param.spp_param
        self.height = int(sp.pyramid_height)
        if self.height < 1:
            self.fail(f"pyramid_height must be at least 1, got {sp.pyramid_height}")
        if sp.pool not in _METHOD:
            self.fail(f"unknown pool method {sp.pool}")
        self.method = _METHOD[sp.pool]
        self._levels = {}
        self.top_shapes(self.bottom_shapes)

    def _pools(self, shape):
        if len(shape) != 4:
            self.fail(f"bottom must have 4 axes (num, channels, height, width), got {shape}")
        h, w = shape[2], shape[3]
        if h <= 0 or w <= 0:
            self.fail(f"input height and width must be positive, got {shape}")
        pools = self._levels.get((h, w))
        if pools is None:
            pools = []
            for level in range(self.height):
                kh, sh, ph = level_geometry(level, h)
                kw, sw, pw = level_geometry(level, w)
                lp = caffe_pb2.LayerParameter(name=f"{self.name}/level{level}", type="Pooling")
                lp.bottom.append(self.param.bottom[0])
                lp.top.append(f"{self.name}/level{level}")
                pp = lp.pooling_param
                pp.pool = self.method
                pp.kernel_h, pp.kernel_w = kh, kw
                pp.stride_h, pp.stride_w = sh, sw
                pp.pad_h, pp.pad_w = ph, pw
                try:
                    pool = Pooling(lp, [shape], self.phase)
                    pool.top_shapes([shape])
                except Exception as e:  # Pooling's own checks, reported for this layer
                    self.fail(f"pyramid level {level} (kernel {kh}x{kw}, stride {sh}x{sw}, "
                              f"pad {ph}x{pw}) is not valid for a {h}x{w} input: {e}")
                pools.append(pool)
            self._levels[(h, w)] = pools
        return pools

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        pools = self._pools(shape)
        outs = [p.top_shapes([shape])[0] for p in pools]
        if self.height == 1:
            return [outs[0]]
        return [(shape[0], sum(math.prod(o[1:]) for o in outs))]

    def forward(self, x):
        pools = self._pools(tuple(x.shape))
        if self.height == 1:
            return pools[0](x)
        return torch.cat([p(x).reshape(x.shape[0], -1) for p in pools], dim=1)
