"""ArgMax through the helper ``arg_max``: Caffe's top-k with ties to the larger index, indices
as floats, no gradient (Caffe has no backward for it)."""
from ....rules.fields import declare
from ..registry import register_emitter

declare("pytorch-source", "ArgMax", "ArgMaxParameter", {"out_max_val", "top_k", "axis"})


@register_emitter("ArgMax")
def arg_max(e):
    m = e.module
    args = [e.bottoms[0], str(m.top_k)]
    if m.out_max_val:
        args.append("out_max_val=True")
    if m.has_axis:
        args.append(f"axis={m.axis}")
    else:
        trailing = len(e.top_shapes[0]) - 3
        if trailing:
            args.append(f"trailing={trailing}")
    return f"{e.helper('arg_max')}({', '.join(args)})"
