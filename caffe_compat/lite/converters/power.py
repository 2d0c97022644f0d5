"""Power: Caffe's PowerLayer, ``(shift + scale x) ^ power``, each step written only when it
changes the value (``scale`` 1, ``shift`` 0, ``power`` 1 are skipped, as Caffe's forward
skips them)."""
import numpy as np

from ._common import F32, register


@register("Power")
def power(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.power_param
    name = g.name(x)
    if p.scale != 1.0:
        name = g.op("Mul", [name, g.const(np.array(p.scale, F32))])
    if p.shift != 0.0:
        name = g.op("Add", [name, g.const(np.array(p.shift, F32))])
    if p.power != 1.0:
        name = g.op("Pow", [name, g.const(np.array(p.power, F32))])
    if name == x.name:
        return [x]
    return [type(x)(name, x.shape)]
