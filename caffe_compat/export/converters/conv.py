"""ConvolutionDepthwise (OpenCV's fork) -> ``Conv`` with Caffe's weights as they are, symmetric
pads (longer at the end where Caffe's window runs past the padded input), strides, dilations
and groups (Convolution, Deconvolution and InnerProduct: :mod:`.shared`).
"""

from ...rules import convolution as conv_rule
from ...rules.fields import ENGINE_FIELD, declare
from ..fields import fillers
from ..registry import register_converter

declare("onnx", "ConvolutionDepthwise", "ConvolutionParameter", conv_rule.FIELDS - {"axis"},
        refuses={"axis"}, no_effect={**ENGINE_FIELD, **conv_rule.ND_IM2COL,
                                     **fillers("ConvolutionParameter")})


def _conv_attrs(m, spatial):
    # a kernel longer than the padded input by less than a stride: Caffe's one output reads
    # zeros past the end, ONNX's Conv gets them as extra end padding
    ends = [p + e for p, e in zip(m.pad, m.far_padding(spatial))]
    return dict(kernel_shape=list(m.kernel), strides=list(m.stride), pads=list(m.pad) + ends,
                dilations=list(m.dilation), group=int(m.group))


@register_converter("ConvolutionDepthwise")
def convolution(ctx):
    m = ctx.module
    if m.axis != 1:
        ctx.fail(f"convolution over axis {m.axis} (channels must be axis 1 for ONNX)")
    op = "ConvTranspose" if m.transposed else "Conv"
    inputs = [ctx.blob(m.weight, "weight")]
    if m.bias_term:
        inputs.append(ctx.blob(m.bias, "bias"))
    attrs = _conv_attrs(m, ctx.bottom_shapes[0][2:])
    return [ctx.op(op, [b] + inputs, **attrs) for b in ctx.bottoms]
