"""Convolution: ONNX Conv with Caffe's geometry (2-D).

Caffe's ConvolutionLayer: output ``floor((in + 2 pad - (dilation (k - 1) + 1)) / stride) + 1``
per spatial axis (ONNX's Conv with symmetric pads gives the same), weights ``(num_output,
channels / group, kh, kw)``, ``group`` splitting channels into independent blocks, bias
``(num_output,)`` added when ``bias_term`` (default true). The sums' order differs from Caffe's
im2col GEMM: float32 rounding only.
"""
from ._common import Unsupported, blob_count, four_d, param_blob, register, spatial


def conv_geometry(lp, p, default_stride=1):
    kh, kw = spatial(p, lp, "kernel")
    sh, sw = spatial(p, lp, "stride", default=default_stride)
    ph, pw = spatial(p, lp, "pad", default=0)
    dil = list(p.dilation)
    if len(dil) > 2:
        raise Unsupported(f"layer '{lp.name}': {len(dil)} dilation values")
    dh, dw = (int(dil[0]), int(dil[-1])) if dil else (1, 1)
    if p.axis != 1 or min(kh, kw, sh, sw, dh, dw) < 1:
        raise Unsupported(f"layer '{lp.name}': axis {p.axis} or geometry "
                          f"{(kh, kw, sh, sw, dh, dw)}")
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw)


@register("Convolution")
def convolution(g, lp, bottoms, blobs):
    p = lp.convolution_param
    k, s, pad, d = conv_geometry(lp, p)
    group, out_c = int(p.group), int(p.num_output)
    tops = []
    for x in bottoms:
        n, c, h, w = four_d(lp, x)
        if group < 1 or c % group or out_c % group:
            raise Unsupported(f"layer '{lp.name}': group {group} for {c} -> {out_c} channels")
        blob_count(lp, blobs, 2 if p.bias_term else 1)
        weight = param_blob(lp, blobs, 0, (out_c, c // group) + k)
        inputs = [x, g.constant(weight)]
        if p.bias_term:
            inputs.append(g.constant(param_blob(lp, blobs, 1, (out_c,))))
        oh = (h + 2 * pad[0] - (d[0] * (k[0] - 1) + 1)) // s[0] + 1
        ow = (w + 2 * pad[1] - (d[1] * (k[1] - 1) + 1)) // s[1] + 1
        if oh < 1 or ow < 1:
            raise Unsupported(f"layer '{lp.name}': empty output for input {x.shape}")
        name = g.op("Conv", inputs, {"kernel_shape": list(k), "strides": list(s),
                                     "pads": [pad[0], pad[1], pad[0], pad[1]],
                                     "dilations": list(d), "group": group})
        tops.append(type(x)(name, (n, out_c, oh, ow)))
    return tops
