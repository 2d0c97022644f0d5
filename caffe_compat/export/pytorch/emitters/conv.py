"""Convolution, Deconvolution, ConvolutionDepthwise and InnerProduct as torch's own modules;
Im2col.

Caffe's convolution is torch's cross-correlation with the same weight layout ``(N, C/g, *k)``,
padding, stride, dilation and groups (where Caffe's window is longer than the padded input,
the bottom is first padded at its end with the zeros im2col reads there); its deconvolution
is ``nn.ConvTranspose{1,2,3}d`` (weights ``(C, N/g, *k)``, output ``s (in - 1) + d (k - 1) + 1 - 2p``, both Caffe's and torch's rule).
InnerProduct flattens the bottom from ``axis`` on and is ``nn.Linear`` (weights ``(N, K)``;
``transpose: true`` stores ``(K, N)``, transposed into the module).

Im2col through the helper ``im2col``: Caffe's column buffer (rows channel-major over the
kernel offsets, each row the output positions), zeros for the padding and for what Caffe's
im2col reads past an axis shorter than the window. The geometry is the deploy file's (the
positions per axis written as numbers); only values are copied, so the result is exact.
"""
from ....rules import convolution as conv_rule, im2col as im2col_rules
from ....rules import inner_product as ip_rule
from ....rules.fields import ENGINE_FIELD, declare
from ..codegen import literal
from ..registry import register_emitter


# the net's weights are written (its fillers ran when it was built); channels on axis 1 only
_WRITTEN = dict.fromkeys(("weight_filler", "bias_filler"), "the net's weights are written")
declare("pytorch-source", ("Convolution", "ConvolutionDepthwise", "Deconvolution"),
        "ConvolutionParameter", conv_rule.FIELDS - {"axis"}, refuses={"axis"},
        no_effect={**ENGINE_FIELD, **conv_rule.ND_IM2COL, **_WRITTEN})
declare("pytorch-source", "InnerProduct", "InnerProductParameter", ip_rule.FIELDS,
        no_effect={**ENGINE_FIELD, **_WRITTEN})
declare("pytorch-source", "Im2col", "ConvolutionParameter", im2col_rules.FIELDS,
        no_effect=im2col_rules.NO_EFFECT)


@register_emitter("Convolution", "ConvolutionDepthwise", "Deconvolution")
def convolution(e):
    m = e.module
    if m.axis != 1:
        e.fail(f"convolution over axis {m.axis}: the PyTorch export takes channels on axis 1")
    n = m.n
    kind = "ConvTranspose" if m.transposed else "Conv"
    args = [str(m.channels), str(m.num_output), f"kernel_size={literal(tuple(m.kernel))}"]
    for name, value, default in (("stride", m.stride, 1), ("padding", m.pad, 0),
                                 ("dilation", m.dilation, 1)):
        if any(v != default for v in value):
            args.append(f"{name}={literal(tuple(value))}")
    if m.group != 1:
        args.append(f"groups={m.group}")
    weights = {"weight": e.weight(m.weight, 0)}
    if m.bias_term:
        weights["bias"] = e.weight(m.bias, 1)
    else:
        args.append("bias=False")
    attr = e.attribute(f"nn.{kind}{n}d({', '.join(args)})", weights)
    # a window longer than the padded input: the zeros Caffe's im2col reads past the end
    # (the rule's far padding; its output length truncates toward zero)
    far = m.rule.far_padding(m.bottom_shapes[0][m.axis + 1:])
    pads = [v for extra in reversed(far) for v in (0, extra)]
    # several bottoms share the weights, one top each (Caffe's multi-bottom convolution)
    if any(far):
        return [f"{attr}(F.pad({b}, {literal(tuple(pads))}))" for b in e.bottoms]
    return [f"{attr}({b})" for b in e.bottoms]


@register_emitter("InnerProduct")
def inner_product(e):
    m = e.module
    x = e.bottoms[0]
    weights = {"weight": e.weight(m.weight, 0, "transpose" if m.transpose else None)}
    if m.bias_term:
        weights["bias"] = e.weight(m.bias, 1)
    bias = "" if m.bias_term else ", bias=False"
    attr = e.attribute(f"nn.Linear({m.K}, {m.N}{bias})", weights)
    if len(e.bottom_shapes[0]) != m.axis + 1:
        x = f"torch.flatten({x}, {m.axis})"
    return f"{attr}({x})"


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
