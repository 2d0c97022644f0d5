"""Eltwise: element-wise SUM (with one ``coeff`` per bottom), PROD or MAX of equally shaped bottoms.

MAX follows Caffe's loop, which decides ties unevenly: between the first two bottoms a tie goes to
bottom 1 (``a > b`` picks bottom 0 only when strictly greater), while every later bottom must be
strictly greater than the running maximum to win. The whole gradient of an element goes to the
winning bottom only. PROD's gradient is the product of the other bottoms with
``stable_prod_grad`` (the default) and ``top / bottom`` without it, as Caffe computes it (so a
zero input gives NaN there, as in Caffe).
"""
import functools
import operator

import torch

from ..proto import caffe_pb2
from ..rules.eltwise import FIELDS, eltwise_rule
from ..rules.fields import declare
from .base import Layer
from .registry import register_layer

OP = caffe_pb2.EltwiseParameter


class _QuotientProd(torch.autograd.Function):
    """Product whose backward is Caffe's ``top / bottom_i * top_diff`` (stable_prod_grad off)."""

    @staticmethod
    def forward(ctx, *bottoms):
        top = functools.reduce(operator.mul, bottoms)     # Caffe's order: b0 * b1, then * b2 ...
        ctx.save_for_backward(top, *bottoms)
        return top

    @staticmethod
    def backward(ctx, grad):
        top, *bottoms = ctx.saved_tensors
        return tuple(top / b * grad if ctx.needs_input_grad[i] else None
                     for i, b in enumerate(bottoms))


declare("torch", "Eltwise", "EltwiseParameter", FIELDS)


@register_layer("Eltwise")
class Eltwise(Layer):
    rule_of = staticmethod(eltwise_rule)
    rule_reads_bottoms = True
    min_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.op = rule.operation
        self.coeffs = list(rule.coeffs)
        self.stable_prod_grad = rule.stable_prod_grad

    def forward(self, *bottoms):
        if self.op == OP.SUM:
            top = None
            for c, b in zip(self.coeffs, bottoms):
                term = b if c == 1.0 else b * c
                top = term if top is None else top + term
            return top
        if self.op == OP.PROD:
            if not self.stable_prod_grad:
                return _QuotientProd.apply(*bottoms)
            return functools.reduce(operator.mul, bottoms)
        a, b = bottoms[0], bottoms[1]
        top = torch.where(a > b, a, b)
        for b in bottoms[2:]:
            top = torch.where(b > top, b, top)
        return top
