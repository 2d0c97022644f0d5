"""InnerProduct: ``top = bottom.reshape(M, K) @ W^T + b`` with Caffe's ``axis`` and ``transpose``.

``K = count(bottom, axis)`` (all axes from ``axis`` on are flattened, C,H,W order), weights
``(N, K)`` or ``(K, N)`` with ``transpose: true``; top shape ``bottom.shape[:axis] + (N,)``.
"""
import numpy as np
import torch
import torch.nn.functional as F

from ..kernels import blas_order
from ..kernels.fixed_order import sum_dims
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.inner_product import FIELDS, FILLERS, inner_product_rule
from .base import Layer
from .registry import register_layer

# Inference through torch's GEMM computes the rows in blocks of this many: on AVX-512
# processors, its float32 bits for a row depend on the number of rows in the call (a CNN+D's
# fc4 at 20 rows and as 8 + 8 + 4: 20 of 20 outputs other in the last bit), and a net's
# inference in chunks (Net.inference_chunk, 8 by default; a multiple of this) must give the
# bits of one pass over the batch.
ROW_BLOCK = 8


class CaffeOrderInnerProduct(torch.autograd.Function):
    """``x W^T + b`` (``x W + b`` with ``transpose``) whose forward sums in Caffe's order
    (:mod:`caffe_compat.kernels.blas_order`), the bias added afterwards; backward by torch's kernels."""

    @staticmethod
    def forward(ctx, x, weight, bias, transpose):
        y = blas_order.inner_product(x, weight, transpose)
        if bias is not None:
            y.add_(bias.detach())
        ctx.save_for_backward(x, weight)
        ctx.transpose = transpose
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return inner_product_backward(grad, x, weight, ctx.transpose, needs[0], needs[1],
                                      ctx.has_bias and needs[2]) + (None,)


def inner_product_backward(grad, x, weight, transpose, need_x, need_weight, need_bias):
    """Caffe's InnerProduct Backward_cpu for top diff ``grad`` (M, N) and bottom ``x`` (M, K):
    ``(bottom diff, weight diff, bias diff)`` by torch's kernels, None where not needed (the
    autograd Function's backward and the explicit one, so both give the same bits)."""
    gx = gw = gb = None
    if need_x:         # torch.mm: what ``@`` runs for two matrices, one dispatch less
        gx = torch.mm(grad, weight.t()) if transpose else torch.mm(grad, weight)
    if need_weight:
        gw = torch.mm(x.t(), grad) if transpose else torch.mm(grad.t(), x)
    if need_bias:
        gb = sum_dims(grad, 0)
    return gx, gw, gb


declare("torch", "InnerProduct", "InnerProductParameter", FIELDS | FILLERS,
        no_effect=ENGINE_FIELD)


@register_layer("InnerProduct")
class InnerProduct(Layer):
    rule_of = staticmethod(inner_product_rule)
    blob_names = ("weight", "bias")
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.axis, self.K, self.N = rule.axis, rule.k, rule.num_output
        self.transpose, self.bias_term = rule.transpose, rule.bias_term
        for name, shape in zip(self.blob_names, rule.param_shapes()):
            self.add_blob(name, shape)

    item_wise = property(lambda self: self.axis >= 1)

    def forward(self, x):
        lead = x.shape[:self.axis]
        if x.shape[self.axis:].numel() != self.K:
            self.fail(f"input size {x.shape[self.axis:].numel()} (shape {tuple(x.shape)}) does "
                      f"not match the weights' K = {self.K}")
        flat = x.reshape(-1, self.K)
        bias = self.bias if self.bias_term else None
        if flat.shape[0] > 0 and blas_order.usable(flat, self.weight,
                                                   *([bias] if bias is not None else [])):
            y = CaffeOrderInnerProduct.apply(flat, self.weight, bias, self.transpose)
            return y.reshape(tuple(lead) + (self.N,))
        w = self.weight.t() if self.transpose else self.weight
        if flat.shape[0] > ROW_BLOCK and not torch.is_grad_enabled():
            y = torch.cat([F.linear(flat[i:i + ROW_BLOCK], w, bias)
                           for i in range(0, flat.shape[0], ROW_BLOCK)])
        else:
            y = F.linear(flat, w, bias)
        return y.reshape(tuple(lead) + (self.N,))

    # Caffe's Forward_cpu / Backward_cpu as explicit calls (see Layer.explicit_forward): the
    # autograd Function's forward and backward arithmetic, without the graph.
    def explicit_ready(self):
        return blas_order.usable_in_training(*self.blobs)

    _explicit_prep = None

    def _explicit_prepared(self, x):
        """What a training pass's product needs for bottoms of ``x``'s shape, decided once:
        ``(shape, weight, bias, detached weight, its array, detached bias, product call, the
        bias's array)``
        while the parameters keep their storage, else None (a bottom that is not (M, K) with
        ``axis`` 1, an empty one, or products not exact)."""
        prep = self._explicit_prep
        params = self._parameters
        weight, bias = params["weight"], params.get("bias")
        if prep is not None and prep[0] == x.shape and prep[1] is weight and \
                prep[2] is bias and prep[3].data_ptr() == weight.data_ptr() and \
                (bias is None or prep[5].data_ptr() == bias.data_ptr()):
            return prep
        if x.dim() != 2 or self.axis != 1 or x.shape[1] != self.K or x.shape[0] == 0 or \
                self.K == 0 or not blas_order.usable_in_training(x, weight):
            return None
        w = weight.detach()
        b = bias.detach() if bias is not None else None
        prep = self._explicit_prep = (
            x.shape, weight, bias, w, w.numpy(), b,
            blas_order.inner_product_call(x.shape[0], self.N, self.K, self.transpose),
            b.numpy() if b is not None else None)
        return prep

    def explicit_forward(self, x):
        prep = self._explicit_prepared(x) if x.is_cpu and x.dtype == torch.float32 else None
        if prep is not None:          # what the lines below do for an (M, K) bottom, on
            # the arrays: the bias added by numpy, the same single float32 sum per value
            y = np.empty((x.shape[0], self.N), dtype=np.float32)
            prep[6](x.numpy(), prep[4], y)
            if prep[7] is not None:
                np.add(y, prep[7], out=y)
            return (torch.from_numpy(y),), (x, prep[3], None)
        lead = x.shape[:self.axis]
        if x.shape[self.axis:].numel() != self.K:
            self.fail(f"input size {x.shape[self.axis:].numel()} (shape {tuple(x.shape)}) does "
                      f"not match the weights' K = {self.K}")
        # a bottom already (M, K) is its own flat view: the same values, one call less
        flat = x if x.dim() == 2 and self.axis == 1 else x.reshape(-1, self.K)
        weight = self.weight.detach()
        bias = self.bias.detach() if self.bias_term else None
        if flat.shape[0] > 0:
            y = blas_order.inner_product(flat, weight, self.transpose)
            if bias is not None:
                y.add_(bias)
        else:
            y = F.linear(flat, weight.t() if self.transpose else weight, bias)
        if flat is not x:
            y = y.reshape(tuple(lead) + (self.N,))
        return (y,), (flat, weight, x.shape if flat is not x else None)

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        flat, weight, shape = saved
        grad = top_diffs[0]
        if shape is not None:
            grad = grad.reshape(-1, self.N)
        gx, gw, gb = inner_product_backward(grad, flat, weight, self.transpose, bottom_need[0],
                                            param_need[0],
                                            self.bias_term and param_need[1])
        if gx is not None and shape is not None:
            gx = gx.reshape(shape)
        return [gx], [gw, gb][:len(param_need)]
