"""The InnerProduct layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import torch

from ...kernels import blas_order, caffe_products
from ...layers.inner_product import ROW_BLOCK
from .program import Refused, emitter, param


@emitter("InnerProduct")
class _InnerProduct:
    """InnerProduct's explicit calls: the Caffe-order product (``blas_order``'s choice of
    kernel) plus the bias; backward by ``torch.mm`` and the bias's sum over the batch."""

    def forward(self, prog, i, node, module):
        x_name, = node.bottoms
        shape = prog.shape[x_name]
        if module.axis != 1 or len(shape) != 2 or shape[1] != module.K or shape[0] == 0:
            raise Refused("InnerProduct on a bottom that is not (M, K)")
        m, n, k = shape[0], module.N, module.K
        x = prog.data[x_name]
        w = prog.live_ptr(lambda: param(module, 0), n * k)
        b = prog.live_ptr(lambda: param(module, 1), n) if module.bias_term else -1
        y = prog.scratch(m * n)
        prog.op("IP_FWD", x, w, b, y, m, n, k,
                caffe_products.inner_product_kind(m, n, k, module.transpose),
                int(module.transpose))
        top, = node.tops
        prog.data[top] = y
        prog.shape[top] = (m, n)
        prog.saved[i] = (x, w, m, n, k)

    def infer(self, prog, i, node, module):
        """InnerProduct.forward with autograd off: the Caffe-order product where
        ``blas_order.usable`` (CAFFE_COMPAT_CAFFE_ORDER_INFERENCE), else torch's F.linear,
        in blocks of ROW_BLOCK rows beyond that many."""
        x_name, = node.bottoms
        shape = prog.shape[x_name]
        if module.transpose or blas_order.usable(torch.empty(0)):
            # the exact product (and, with transpose, the plain one on W's transpose view)
            if module.transpose and not blas_order.usable(torch.empty(0)):
                raise Refused("InnerProduct transpose: inference product")
            return self.forward(prog, i, node, module)
        if module.axis != 1 or len(shape) != 2 or shape[1] != module.K or shape[0] == 0:
            raise Refused("InnerProduct on a bottom that is not (M, K)")
        m, n, k = shape[0], module.N, module.K
        w = prog.live_ptr(lambda: param(module, 0), n * k)
        b = prog.live_ptr(lambda: param(module, 1), n) if module.bias_term else -1
        y = prog.scratch(m * n)
        block = ROW_BLOCK if m > ROW_BLOCK else 0
        prog.op("LINEAR", prog.data[x_name], w, b, y, m, n, k, block)
        for rows in {min(m, block or m), m % block if block and m % block else 0} - {0}:
            prog.check("linear", (rows, k, n, int(module.bias_term)))
        top, = node.tops
        prog.data[top] = y
        prog.shape[top] = (m, n)

    def backward(self, prog, i, node, module, wanted, want_params):
        x, w, m, n, k = prog.saved[i]
        top, = node.tops
        transpose = bool(module.transpose)
        need_w = want_params[0]
        need_b = module.bias_term and len(want_params) > 1 and want_params[1]
        if not (wanted[0] or need_w or need_b):
            return
        dy = prog.top_diff(top)
        gx = -1
        if wanted[0]:
            gx = prog.scratch(m * k)
            prog.check("mm", (m, n, k, 2) if transpose else (m, n, k, 0))
            prog.diff[node.bottoms[0]] = gx
        gw = tw = gb = tb = -1
        if need_w:
            gw = prog.live_ptr(lambda: param(module, 0).grad, n * k)
            tw = prog.scratch(m * n * k // max(m, 1))
            prog.check("mm", (k, m, n, 1) if transpose else (n, m, k, 1))
        if need_b:
            gb = prog.live_ptr(lambda: param(module, 1).grad, n)
            tb = prog.scratch(n)
            prog.check("colsum", (m, n))
        prog.op("IP_BWD", dy, x, w, gx, gw, gb, tw, tb, m, n, k, int(transpose))
