"""Im2col through the helper ``im2col``: Caffe's column buffer (rows channel-major over the
kernel offsets, each row the output positions), zeros for the padding and for what Caffe's
im2col reads past an axis shorter than the window. The geometry is the deploy file's (the
positions per axis written as numbers); only values are copied, so the result is exact."""
from ....rules import im2col as im2col_rules
from ....rules.fields import declare
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "Im2col", "ConvolutionParameter", im2col_rules.FIELDS,
        no_effect=im2col_rules.NO_EFFECT)


@register_emitter("Im2col")
def im2col(e):
    m = e.module
    spatial = e.bottom_shapes[0][m.axis + 1:]
    far = m.rule.far_padding(spatial)
    out = tuple(e.top_shapes[0][m.axis + 1:])
    args = [e.bottoms[0]] + [literal(tuple(v)) for v in (m.kernel, m.stride, m.pad,
                                                          m.dilation, far, out)]
    if m.axis != 1:
        args.append(f"axis={m.axis}")
    return f"{e.helper('im2col')}({', '.join(args)})"
