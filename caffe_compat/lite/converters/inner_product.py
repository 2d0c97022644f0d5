"""InnerProduct: Caffe's InnerProductLayer. The axes from ``axis`` (default 1) on are joined
into K inputs per row; weights ``(num_output, K)`` (``(K, num_output)`` with ``transpose``),
bias ``(num_output,)`` when ``bias_term``; output shape ``shape[:axis] + (num_output,)``.
ONNX's Gemm on the rows, with reshapes around it."""
import math

from ._common import Unsupported, blob_count, canonical_axis, param_blob, register


@register("InnerProduct")
def inner_product(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.inner_product_param
    axis = canonical_axis(int(p.axis), len(x.shape), lp)
    rows, k, n_out = math.prod(x.shape[:axis]), math.prod(x.shape[axis:]), int(p.num_output)
    if n_out < 1:
        raise Unsupported(f"layer '{lp.name}': num_output {n_out}")
    blob_count(lp, blobs, 2 if p.bias_term else 1)
    weight = param_blob(lp, blobs, 0, (k, n_out) if p.transpose else (n_out, k))
    inputs = [g.reshape(g.name(x), [rows, k]) if x.shape != (rows, k) else x,
              g.constant(weight)]
    if p.bias_term:
        inputs.append(g.constant(param_blob(lp, blobs, 1, (n_out,))))
    y = g.op("Gemm", inputs, {"transB": 0 if p.transpose else 1})
    shape = tuple(x.shape[:axis]) + (n_out,)
    if shape != (rows, n_out):
        y = g.reshape(y, list(shape))
    return [type(x)(y, shape)]
