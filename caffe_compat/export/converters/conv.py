"""ConvolutionDepthwise and InnerProduct (Convolution and Deconvolution: :mod:`.shared`).

ConvolutionDepthwise (OpenCV's fork) -> ``Conv`` with Caffe's weights as they are, symmetric
pads (longer at the end where Caffe's window runs past the padded input), strides, dilations
and groups. InnerProduct: the axes from ``axis`` on are flattened (C, H, W order, as Caffe),
then ``Gemm`` with ``transB`` (``Flatten`` + ``Gemm`` for ``axis: 1``, the form every runtime
reads) or ``MatMul`` + ``Add`` for other axes.
"""
import numpy as np

from ...rules import convolution as conv_rule
from ...rules import inner_product as ip_rule
from ...rules.fields import ENGINE_FIELD, declare
from ..fields import fillers
from ..registry import register_converter

declare("onnx", "ConvolutionDepthwise", "ConvolutionParameter", conv_rule.FIELDS - {"axis"},
        refuses={"axis"}, no_effect={**ENGINE_FIELD, **conv_rule.ND_IM2COL,
                                     **fillers("ConvolutionParameter")})
declare("onnx", "InnerProduct", "InnerProductParameter", ip_rule.FIELDS,
        no_effect={**ENGINE_FIELD, **fillers("InnerProductParameter")})


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


@register_converter("InnerProduct")
def inner_product(ctx):
    m = ctx.module
    shape = ctx.bottom_shapes[0]
    w = m.weight.detach().cpu().numpy()
    if m.axis == 1:
        flat = ctx.op("Flatten", [ctx.bottoms[0]], axis=1) if len(shape) != 2 else \
            ctx.bottoms[0]
        inputs = [flat, ctx.blob(w, "weight")]
        if m.bias_term:
            inputs.append(ctx.blob(m.bias, "bias"))
        return ctx.op("Gemm", inputs, transB=0 if m.transpose else 1)
    # any other axis: (lead..., K) @ W^T + b, the leading axes kept (the batch copied by 0)
    target = [0] * m.axis + [m.K]
    x = ctx.op("Reshape", [ctx.bottoms[0], ctx.ints(target)])
    wt = w if m.transpose else np.ascontiguousarray(w.T)
    y = ctx.op("MatMul", [x, ctx.blob(wt, "weight_t")])
    if m.bias_term:
        y = ctx.op("Add", [y, ctx.blob(m.bias, "bias")])
    return y
