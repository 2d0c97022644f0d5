"""Deconvolution: ONNX ConvTranspose with Caffe's geometry (2-D).

Caffe's DeconvolutionLayer (the backward of a convolution): output ``stride (in - 1) +
dilation (k - 1) + 1 - 2 pad``, weights ``(channels, num_output / group, kh, kw)`` (ONNX's
ConvTranspose layout), bias ``(num_output,)`` when ``bias_term``.
"""
from ._common import Unsupported, blob_count, four_d, param_blob, register
from .convolution import conv_geometry


@register("Deconvolution")
def deconvolution(g, lp, bottoms, blobs):
    p = lp.convolution_param
    k, s, pad, d = conv_geometry(lp, p)
    group, out_c = int(p.group), int(p.num_output)
    tops = []
    for x in bottoms:
        n, c, h, w = four_d(lp, x)
        if group < 1 or c % group or out_c % group:
            raise Unsupported(f"layer '{lp.name}': group {group} for {c} -> {out_c} channels")
        blob_count(lp, blobs, 2 if p.bias_term else 1)
        inputs = [x, g.constant(param_blob(lp, blobs, 0, (c, out_c // group) + k))]
        if p.bias_term:
            inputs.append(g.constant(param_blob(lp, blobs, 1, (out_c,))))
        oh = s[0] * (h - 1) + d[0] * (k[0] - 1) + 1 - 2 * pad[0]
        ow = s[1] * (w - 1) + d[1] * (k[1] - 1) + 1 - 2 * pad[1]
        if oh < 1 or ow < 1:
            raise Unsupported(f"layer '{lp.name}': empty output for input {x.shape}")
        name = g.op("ConvTranspose", inputs, {"kernel_shape": list(k), "strides": list(s),
                                              "pads": [pad[0], pad[1], pad[0], pad[1]],
                                              "dilations": list(d), "group": group})
        tops.append(type(x)(name, (n, out_c, oh, ow)))
    return tops
