"""Scale: Caffe's ScaleLayer, ``y = x * scale (+ bias)`` with ``scale`` broadcast over the axes
of ``x`` from ``axis`` (default 1, negative from the end) on: a learned blob of shape
``x.shape[axis:axis + num_axes]`` (``num_axes`` default 1; -1: to the last axis; 0: one
value), or the second bottom. ``bias_term``: a bias blob of the scale's shape (the layer's
first blob when the scale is a bottom)."""


from ._common import Unsupported, blob_count, canonical_axis, param_blob, register


@register("Scale")
def scale(g, lp, bottoms, blobs):
    p = lp.scale_param
    x = bottoms[0]
    n = len(x.shape)
    if len(bottoms) == 2:
        s = bottoms[1]
        axis = canonical_axis(int(p.axis), n, lp) if len(s.shape) else 0
        span = s.shape
        if tuple(x.shape[axis:axis + len(span)]) != span:
            raise Unsupported(f"layer '{lp.name}': scale {span} against {x.shape} at {axis}")
        blob_count(lp, blobs, 1 if p.bias_term else 0)
        trail = (1,) * (n - axis - len(span))
        scale_name = g.reshape(g.name(s), list(span + trail)) if trail else g.name(s)
        bias_index = 0
    else:
        axis = canonical_axis(int(p.axis), n, lp)
        num = int(p.num_axes)
        end = n if num == -1 else axis + num
        if num < -1 or end > n:
            raise Unsupported(f"layer '{lp.name}': num_axes {num}")
        span = tuple(x.shape[axis:end])
        blob_count(lp, blobs, 2 if p.bias_term else 1)
        trail = (1,) * (n - end)
        scale_name = g.const(param_blob(lp, blobs, 0, span).reshape(span + trail))
        bias_index = 1
    y = g.op("Mul", [x, scale_name])
    if p.bias_term:
        bias = param_blob(lp, blobs, bias_index, span).reshape(span + trail)
        y = g.op("Add", [y, g.const(bias)])
    return [type(x)(y, x.shape)]


