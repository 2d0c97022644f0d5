"""Permute (SSD): the axes in ``order``, then the axes it leaves out in their order (each axis
once); ONNX's Transpose."""
import numpy as np

from ._common import Unsupported, register


@register("Permute")
def permute(g, lp, bottoms, blobs):
    x, = bottoms
    n = len(x.shape)
    order = [int(o) % n if -n <= int(o) < n else -1 for o in lp.permute_param.order]
    if -1 in order or len(set(order)) != len(order):
        raise Unsupported(f"layer '{lp.name}': order {list(lp.permute_param.order)}")
    order += [a for a in range(n) if a not in order]
    shape = tuple(x.shape[a] for a in order)
    if order == list(range(n)):
        return [x]
    if x.const is not None:
        return [g.constant(np.transpose(x.const, order))]
    return [type(x)(g.op("Transpose", [x], {"perm": order}), shape)]
