"""Convolution: ONNX Conv with Caffe's geometry (2-D), the parameters, output lengths and
refusals from :mod:`caffe_compat.rules.convolution`.

Where Caffe's window is longer than the padded input (its output length truncates toward
zero: one position reading zeros past the end) the node pads the end by what im2col reads
there. A padded 1 x 1 convolution (SqueezeNet 1.0's conv10) reads its zero border from a Pad
node before it: OpenCV 5's ONNX reader ignores the pads of a 1 x 1 Conv. The sums' order
differs from Caffe's im2col GEMM: float32 rounding only. ConvolutionDepthwise (the MobileNet
forks' name) is Caffe's Convolution under another type name.

Deconvolution: ONNX ConvTranspose with Caffe's geometry (2-D): weights ``(channels,
num_output / group, kh, kw)`` are ONNX's ConvTranspose layout.

Im2col: Caffe's im2col as a layer (geometry, top shape and refusals from
:mod:`caffe_compat.rules.im2col`). ``Pad`` with zeros (Caffe's pad, and the zeros past the end
that a window longer than the padded input reads), then for each kernel offset ``(k_1, ...,
k_n)`` (row-major, Caffe's order) a strided ``Slice`` starting at ``k_i dilation_i`` and
stepping by ``stride_i``, the slices stacked after the channel axis and merged with it, so that
rows come channel-major ``(c, k_1, ..., k_n)`` as Caffe's column buffer. Values are only
copied: the result is exact. The axes before the channel axis are copied (Reshape's 0).
"""
import itertools

from ...rules.convolution import FIELDS, FILLERS, ND_IM2COL, convolution_rule
from ...rules.im2col import FIELDS as IM2COL_FIELDS, NO_EFFECT as IM2COL_NO_EFFECT, im2col_rule
from ._common import ENGINE_FIELD, Unsupported, blob_count, declare, four_d, param_blob, register


# weights come from the caffemodel only (a missing blob, which a filler would fill, goes to
# the torch path), and so does an axis other than 1
declare("lite", ("Convolution", "Deconvolution", "ConvolutionDepthwise"),
        "ConvolutionParameter", FIELDS - {"axis"}, refuses={"axis"} | FILLERS,
        no_effect={**ENGINE_FIELD, **ND_IM2COL})
declare("lite", "Im2col", "ConvolutionParameter", IM2COL_FIELDS, no_effect=IM2COL_NO_EFFECT)


def conv_like(g, lp, bottoms, blobs, op, transposed):
    """The Conv / ConvTranspose node of each bottom (``transposed``: Deconvolution), with
    Caffe's checks and geometry."""
    shapes = [tuple(four_d(lp, x)) for x in bottoms]
    rule = convolution_rule(lp, shapes, transposed)
    if rule.axis != 1:
        raise Unsupported(f"layer '{lp.name}': channel axis {rule.axis}")
    if min(rule.dilation) < 1:
        raise Unsupported(f"layer '{lp.name}': dilation {rule.dilation}")
    blob_count(lp, blobs, 2 if rule.bias_term else 1)
    weight = g.constant(param_blob(lp, blobs, 0, rule.weight_shape()))
    bias = [g.constant(param_blob(lp, blobs, 1, (rule.num_output,)))] if rule.bias_term else []
    tops = []
    for x, shape in zip(bottoms, shapes):
        top = rule.top_shape(shape)
        far = rule.far_padding(shape[2:])
        pad = rule.pad
        pads = [pad[0], pad[1], pad[0] + far[0], pad[1] + far[1]]
        source = x
        if not transposed and any(pads) and all(k == 1 for k in rule.kernel):
            # a 1 x 1 window's padding as a Pad node of its own: OpenCV 5's ONNX reader
            # drops the pads of a 1 x 1 Conv (the zero border Caffe's im2col reads is lost)
            source = g.op("Pad", [x, g.const([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]])])
            pads = [0, 0, 0, 0]
        name = g.op(op, [source, weight] + bias,
                    {"kernel_shape": list(rule.kernel), "strides": list(rule.stride),
                     "pads": pads, "dilations": list(rule.dilation), "group": rule.group})
        tops.append(type(x)(name, top))
    return tops


def _lengths_free(lp, shapes, rule=None):
    """The nodes write no length but a window's far padding (one longer than its padded
    input); a channel axis other than 1 is :func:`conv_like`'s refusal (None: the plan is
    written, and refused, for the shape). ``rule``: the layer's :func:`convolution_rule`
    record for bottoms of these ranks and channels (made here where not given)."""
    if rule is None:
        rule = convolution_rule(lp, shapes)
    if rule.axis != 1 or any(any(rule.far_padding(s[2:])) for s in shapes):
        return None
    return [rule.top_shape(s) for s in shapes], None


@register("Convolution", lengths_free=_lengths_free, rule=convolution_rule)
@register("ConvolutionDepthwise", lengths_free=_lengths_free,   # the MobileNet forks' name
          rule=convolution_rule)
def convolution(g, lp, bottoms, blobs):
    return conv_like(g, lp, bottoms, blobs, "Conv", False)


@register("Deconvolution")
def deconvolution(g, lp, bottoms, blobs):
    return conv_like(g, lp, bottoms, blobs, "ConvTranspose", True)


@register("Im2col")
def im2col(g, lp, bottoms, blobs):
    x, = bottoms
    rule = im2col_rule(lp, x.shape)
    top, axis, rank = rule.top_shape(x.shape), rule.axis, len(x.shape)
    spatial = x.shape[axis + 1:]
    out, extra = rule.out_sizes(spatial), rule.far_padding(spatial)
    name = g.name(x)
    if any(rule.pad) or any(extra):
        lead = [0] * (axis + 1)
        ends = [p + e for p, e in zip(rule.pad, extra)]
        name = g.op("Pad", [name, g.const(lead + list(rule.pad) + lead + ends)])
    axes, steps = g.const(list(range(axis + 1, rank))), g.const(list(rule.stride))
    kernel_axis = g.const([axis + 1])
    stacked = []
    for offset in itertools.product(*[range(k) for k in rule.kernel]):
        starts = [k * d for k, d in zip(offset, rule.dilation)]
        ends = [s + (o - 1) * st + 1 for s, o, st in zip(starts, out, rule.stride)]
        piece = g.op("Slice", [name, g.const(starts), g.const(ends), axes, steps])
        stacked.append(g.op("Unsqueeze", [piece, kernel_axis]))
    cols = stacked[0] if len(stacked) == 1 else g.op("Concat", stacked, {"axis": axis + 1})
    return [type(x)(g.op("Reshape", [cols, g.const([0] * axis + list(top[axis:]))]), top)]
