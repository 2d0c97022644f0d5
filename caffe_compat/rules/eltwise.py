"""Caffe's EltwiseLayer rules (eltwise_layer.cpp), read by every engine.

Parameters and defaults: ``operation`` (SUM; PROD = 0, SUM = 1, MAX = 2), ``coeff`` (one per
bottom, SUM only; absent: all 1), ``stable_prod_grad`` (true: PROD's gradient is the product
of the other bottoms; false: ``top / bottom``). SUM is Caffe's ``top = 0`` then
``top += coeff_i * bottom_i`` in bottom order; MAX keeps the first of two equal bottoms 0 and 1
only when strictly greater (a tie goes to bottom 1), later bottoms win only when strictly
greater. Top shape: the bottoms'. Refusals, as Caffe's CHECKs: a coeff count other than 0 or
the number of bottoms, coeffs with PROD, an unknown operation, bottoms of different shapes,
fewer than 2 bottoms.
"""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

PROD, SUM, MAX = 0, 1, 2
NAMES = {PROD: "PROD", SUM: "SUM", MAX: "MAX"}
FIELDS = frozenset({"operation", "coeff", "stable_prod_grad"})
_SECTION = "eltwise_param"


@frozen
class EltwiseRule:
    layer: object
    operation: int
    coeffs: tuple           # one per bottom (all 1.0 when none given)
    stable_prod_grad: bool

    def top_shape(self, bottom_shapes):
        first = tuple(int(d) for d in bottom_shapes[0])
        for s in bottom_shapes[1:]:
            if tuple(int(d) for d in s) != first:
                refuse(self.layer, "all bottoms must have the same shape, got "
                       f"{[tuple(b) for b in bottom_shapes]}")
        return first


def eltwise_rule(layer, bottom_shapes):
    """The :class:`EltwiseRule` of ``layer`` for its bottoms' shapes."""
    p = layer.eltwise_param
    op = int(p.operation)
    if op not in NAMES:
        refuse(layer, f"unknown operation {op} (expected PROD, SUM or MAX)",
               f"{_SECTION}.operation")
    n = len(bottom_shapes)
    if n < 2:
        refuse(layer, f"takes at least 2 bottoms, got {n}")
    if len(p.coeff) not in (0, n):
        refuse(layer, f"takes one coeff per bottom blob ({n}), got {len(p.coeff)}",
               f"{_SECTION}.coeff")
    if op == PROD and len(p.coeff):
        refuse(layer, "coeff applies to SUM only; it cannot be given with operation PROD",
               f"{_SECTION}.coeff")
    coeffs = tuple(float(c) for c in p.coeff) or (1.0,) * n
    rule = EltwiseRule(layer, op, coeffs, bool(p.stable_prod_grad))
    rule.top_shape(bottom_shapes)
    return rule
