"""Eltwise: Caffe's EltwiseLayer over bottoms of one shape. PROD multiplies, MAX takes the
maximum, SUM adds ``coeff[i] * bottom[i]`` (one coefficient per bottom, all 1 when none are
given), each product then summed in bottom order as Caffe's axpy loop does."""
import numpy as np

from ._common import F32, Unsupported, register

PROD, SUM, MAX = 0, 1, 2


@register("Eltwise")
def eltwise(g, lp, bottoms, blobs):
    p = lp.eltwise_param
    shape = bottoms[0].shape
    if any(b.shape != shape for b in bottoms) or len(bottoms) < 2:
        raise Unsupported(f"layer '{lp.name}': bottoms {[b.shape for b in bottoms]}")
    coeffs = list(p.coeff)
    if coeffs and len(coeffs) != len(bottoms):
        raise Unsupported(f"layer '{lp.name}': {len(coeffs)} coeff for {len(bottoms)} bottoms")
    if p.operation == PROD:
        y = g.op("Mul", bottoms[:2])
        for b in bottoms[2:]:
            y = g.op("Mul", [y, b])
    elif p.operation == MAX:
        y = g.op("Max", bottoms)
    elif p.operation == SUM:
        terms = []
        for i, b in enumerate(bottoms):
            c = coeffs[i] if coeffs else 1.0
            terms.append(g.name(b) if c == 1.0 else g.op("Mul", [b, g.const(np.array(c, F32))]))
        y = terms[0]
        for t in terms[1:]:
            y = g.op("Add", [y, t])
    else:
        raise Unsupported(f"layer '{lp.name}': operation {p.operation}")
    return [type(bottoms[0])(y, shape)]
