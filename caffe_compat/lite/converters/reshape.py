"""Reshape: Caffe's ReshapeLayer. ``shape`` replaces the input axes ``[axis, axis + num_axes)``
(``axis`` default 0, negative from the end; ``num_axes`` -1: to the last axis); a 0 copies the
input's dimension at that position, one -1 takes what the count leaves; the count must not
change."""
import math

from ._common import Unsupported, register


def reshaped(g, x, shape):
    """``x`` viewed with ``shape`` (a constant stays one)."""
    shape = tuple(int(d) for d in shape)
    if shape == x.shape:
        return x
    if x.const is not None:
        return g.constant(x.const.reshape(shape))
    return type(x)(g.reshape(g.name(x), list(shape)), shape)


@register("Reshape")
def reshape(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.reshape_param
    dims = [int(d) for d in p.shape.dim]
    n = len(x.shape)
    axis = int(p.axis)
    start = axis if axis >= 0 else n + axis + 1
    if not 0 <= start <= n:
        raise Unsupported(f"layer '{lp.name}': axis {axis} for {n} axes")
    num = int(p.num_axes)
    end = n if num == -1 else start + num
    if num < -1 or end > n:
        raise Unsupported(f"layer '{lp.name}': num_axes {num}")
    middle = []
    for i, d in enumerate(dims):
        if d == 0:
            if start + i >= n:
                raise Unsupported(f"layer '{lp.name}': dim 0 at {start + i} beyond the input")
            middle.append(x.shape[start + i])
        elif d == -1 or d > 0:
            middle.append(d)
        else:
            raise Unsupported(f"layer '{lp.name}': dim {d}")
    shape = list(x.shape[:start]) + middle + list(x.shape[end:])
    if shape.count(-1) > 1:
        raise Unsupported(f"layer '{lp.name}': more than one -1")
    total = math.prod(x.shape)
    if -1 in shape:
        known = -math.prod(shape)
        if known == 0 or total % known:
            raise Unsupported(f"layer '{lp.name}': {total} values into {shape}")
        shape[shape.index(-1)] = total // known
    if math.prod(shape) != total:
        raise Unsupported(f"layer '{lp.name}': {total} values into {shape}")
    return [reshaped(g, x, shape)]
