"""Concat along Caffe's ``axis`` (default 1; the legacy ``concat_dim`` when given); every other
axis must agree, as Caffe checks. Constant inputs (PriorBox outputs) give a constant."""
import numpy as np

from ...rules.fields import declare
from ._common import Unsupported, canonical_axis, register

declare("lite", "Concat", "ConcatParameter", {"axis", "concat_dim"})


@register("Concat")
def concat(g, lp, bottoms, blobs):
    p = lp.concat_param
    ndim = len(bottoms[0].shape)
    axis = canonical_axis(int(p.concat_dim if p.HasField("concat_dim") else p.axis), ndim, lp)
    for b in bottoms[1:]:
        if len(b.shape) != ndim or any(b.shape[i] != bottoms[0].shape[i] for i in range(ndim)
                                       if i != axis):
            raise Unsupported(f"layer '{lp.name}': shapes {[v.shape for v in bottoms]}")
    shape = list(bottoms[0].shape)
    shape[axis] = sum(b.shape[axis] for b in bottoms)
    if all(b.const is not None for b in bottoms):
        return [g.constant(np.concatenate([b.const for b in bottoms], axis=axis))]
    if len(bottoms) == 1:
        return [bottoms[0]]
    return [type(bottoms[0])(g.op("Concat", bottoms, {"axis": axis}), shape)]
