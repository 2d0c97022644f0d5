"""InnerProduct: the bottom flattened from ``axis`` times the weights (``transpose``: stored
K x N), Caffe's gemm in OpenBLAS's summation order and kernel choice
(``caffe_compat.kernels.caffe_products.inner_product_into``), then the bias added once.
Backward: Caffe's three products (``dx = dy W``, ``dW += dy^T x``, ``db += sum dy``; with
``transpose`` the weights' transpose): for products of at most 1e6 multiply-adds (where
OpenBLAS's small-matrix kernels sum each output in one sequence) ``_exact_gemm``'s sequential
sums and the rows of ``dy`` added one after the other, the arithmetic of the compiled training
loop (``kernels/_tiny_solve.c``, OP_AIP_BWD); beyond, numpy's matrix product."""

import numpy as np

from ...kernels import caffe_products
from ...parallel.threads import array_kernel_threads
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.inner_product import FIELDS, FILLERS, inner_product_rule
from ..registry import register
from .base import RuleBlobsLayer, need


# the fillers it does not draw (gaussian, msra, ...) go to the torch engine
declare("array", "InnerProduct", "InnerProductParameter", FIELDS,
        refuses=FILLERS, no_effect=ENGINE_FIELD)


@register("InnerProduct")
class InnerProduct(RuleBlobsLayer):
    one_bottom = True
    rule_of = staticmethod(inner_product_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(caffe_products.available(), "the compiled kernel")
        rule = self.rule
        self.axis, self.k, self.n = rule.axis, rule.k, rule.num_output
        self.transpose, self.bias_term = rule.transpose, rule.bias_term

    def forward(self, bottoms, tops, params):
        x = bottoms[0].reshape(-1, self.k)
        y = tops[0].reshape(-1, self.n)
        caffe_products.inner_product_into(x, params[0], y, self.transpose,
                                          array_kernel_threads(y.size * self.k))
        if self.bias_term:
            y += params[1]

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        x = bottoms[0].reshape(-1, self.k)
        dy = top_diffs[0].reshape(-1, self.n)
        w = params[0]
        if x.shape[0] * self.n * self.k <= caffe_products.SMALL_MNK:
            self._small_backward(x, dy, w, bottom_diffs[0], param_diffs)
            return
        if param_diffs[0] is not None:
            param_diffs[0] += (x.T @ dy) if self.transpose else (dy.T @ x)
        if self.bias_term and param_diffs[1] is not None:
            param_diffs[1] += dy.sum(axis=0, dtype=np.float32)
        if bottom_diffs[0] is not None:
            dx = bottom_diffs[0].reshape(-1, self.k)
            np.matmul(dy, w.T if self.transpose else w, out=dx)

    def _small_backward(self, x, dy, w, bottom_diff, param_diffs):
        """The backward of small products, as OP_AIP_BWD computes it (see the module doc)."""
        gemm = caffe_products.small_gemm
        if param_diffs[0] is not None:
            grad = np.empty_like(param_diffs[0])
            if self.transpose:
                gemm(x.T, dy, grad)
            else:
                gemm(dy.T, x, grad)
            param_diffs[0] += grad
        if self.bias_term and param_diffs[1] is not None and len(dy):
            param_diffs[1] += np.add.accumulate(dy, axis=0, dtype=np.float32)[-1]
        if bottom_diff is not None:
            gemm(dy, w.T if self.transpose else w, bottom_diff.reshape(-1, self.k))
