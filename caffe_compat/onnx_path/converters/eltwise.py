"""Eltwise: Caffe's EltwiseLayer over bottoms of one shape (the operation, coefficients and
refusals from :mod:`caffe_compat.rules.eltwise`). PROD multiplies in bottom order, MAX takes
the maximum (equal values are equal whichever bottom wins), SUM adds ``coeff[i] *
bottom[i]`` in bottom order as Caffe's axpy loop does."""
import numpy as np

from ...rules.eltwise import FIELDS, MAX, PROD, eltwise_rule
from ._common import F32, declare, register

# stable_prod_grad changes only the gradient
declare("lite", "Eltwise", "EltwiseParameter", FIELDS - {"stable_prod_grad"},
        no_effect={"stable_prod_grad": "it changes PROD's gradient only; a forward "
                   "engine computes none"})


@register("Eltwise")
def eltwise(g, lp, bottoms, blobs):
    rule = eltwise_rule(lp, [b.shape for b in bottoms])
    shape = bottoms[0].shape
    if rule.operation == PROD:
        y = g.op("Mul", bottoms[:2])
        for b in bottoms[2:]:
            y = g.op("Mul", [y, b])
    elif rule.operation == MAX:
        y = g.op("Max", bottoms)
    else:
        terms = [g.name(b) if c == 1.0 else g.op("Mul", [b, g.const(np.array(c, F32))])
                 for c, b in zip(rule.coeffs, bottoms)]
        y = terms[0]
        for t in terms[1:]:
            y = g.op("Add", [y, t])
    return [type(bottoms[0])(y, shape)]
