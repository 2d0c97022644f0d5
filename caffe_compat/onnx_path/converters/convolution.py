"""Convolution: ONNX Conv with Caffe's geometry (2-D), the parameters, output lengths and
refusals from :mod:`caffe_compat.rules.convolution`.

Where Caffe's window is longer than the padded input (its output length truncates toward
zero: one position reading zeros past the end) the node pads the end by what im2col reads
there. A padded 1 x 1 convolution (SqueezeNet 1.0's conv10) reads its zero border from a Pad
node before it: OpenCV 5's ONNX reader ignores the pads of a 1 x 1 Conv. The sums' order
differs from Caffe's im2col GEMM: float32 rounding only. ConvolutionDepthwise (the MobileNet
forks' name) is Caffe's Convolution under another type name.
"""
import numpy as np

from ...rules.convolution import FIELDS, FILLERS, ND_IM2COL, convolution_rule
from ._common import ENGINE_FIELD, Unsupported, blob_count, declare, four_d, param_blob, register


# weights come from the caffemodel only (a missing blob, which a filler would fill, goes to
# the torch path), and so does an axis other than 1
declare("lite", ("Convolution", "Deconvolution", "ConvolutionDepthwise"),
        "ConvolutionParameter", FIELDS - {"axis"}, refuses={"axis"} | FILLERS,
        no_effect={**ENGINE_FIELD, **ND_IM2COL})


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
            source = g.op("Pad", [x, g.const(np.array([0, 0, pads[0], pads[1], 0, 0, pads[2],
                                                       pads[3]], np.int64))])
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
