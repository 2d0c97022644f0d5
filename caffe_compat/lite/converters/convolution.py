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


def conv_like(g, lp, bottoms, blobs, op, weight_shape, out_size):
    """The Conv / ConvTranspose node of each bottom, with Caffe's checks: ``weight_shape(c,
    out_c, group)`` the weight blob's shape (without the kernel), ``out_size(extent, k, s, pad,
    d)`` an output extent."""
    p = lp.convolution_param
    k, s, pad, d = conv_geometry(lp, p)
    group, out_c = int(p.group), int(p.num_output)
    tops = []
    for x in bottoms:
        n, c, h, w = four_d(lp, x)
        if group < 1 or c % group or out_c % group:
            raise Unsupported(f"layer '{lp.name}': group {group} for {c} -> {out_c} channels")
        blob_count(lp, blobs, 2 if p.bias_term else 1)
        inputs = [x, g.constant(param_blob(lp, blobs, 0, weight_shape(c, out_c, group) + k))]
        if p.bias_term:
            inputs.append(g.constant(param_blob(lp, blobs, 1, (out_c,))))
        oh, ow = (out_size(e, k[i], s[i], pad[i], d[i]) for i, e in enumerate((h, w)))
        if oh < 1 or ow < 1:
            raise Unsupported(f"layer '{lp.name}': empty output for input {x.shape}")
        name = g.op(op, inputs, {"kernel_shape": list(k), "strides": list(s),
                                 "pads": [pad[0], pad[1], pad[0], pad[1]],
                                 "dilations": list(d), "group": group})
        tops.append(type(x)(name, (n, out_c, oh, ow)))
    return tops


@register("Convolution")
def convolution(g, lp, bottoms, blobs):
    return conv_like(g, lp, bottoms, blobs, "Conv",
                     lambda c, out_c, group: (out_c, c // group),
                     lambda e, k, s, pad, d: (e + 2 * pad - (d * (k - 1) + 1)) // s + 1)
