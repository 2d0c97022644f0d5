"""InnerProduct: ``top = bottom.reshape(M, K) @ W^T + b`` with Caffe's ``axis`` and ``transpose``.

``K = count(bottom, axis)`` (all axes from ``axis`` on are flattened, C,H,W order), weights
``(N, K)`` or ``(K, N)`` with ``transpose: true``; top shape ``bottom.shape[:axis] + (N,)``.
"""
import torch
import torch.nn.functional as F

from .. import blas_order
from .base import Layer, canonical_axis, count
from .registry import register_layer


class CaffeOrderInnerProduct(torch.autograd.Function):
    """``x W^T + b`` (``x W + b`` with ``transpose``) whose forward sums in Caffe's order
    (:mod:`caffe_compat.blas_order`), the bias added afterwards; backward by torch's kernels."""

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
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = grad @ weight.t() if ctx.transpose else grad @ weight
        if ctx.needs_input_grad[1]:
            gw = x.t() @ grad if ctx.transpose else grad.t() @ x
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum(0)
        return gx, gw, gb, None


@register_layer("InnerProduct")
class InnerProduct(Layer):
    blob_names = ("weight", "bias")
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        ip = param.inner_product_param
        shape = self.bottom_shapes[0]
        self.axis = canonical_axis(ip.axis, len(shape), self.name)
        self.K = count(shape, self.axis)
        self.N = ip.num_output
        if self.N <= 0:
            self.fail("num_output must be positive")
        self.transpose = ip.transpose
        self.add_blob("weight", (self.K, self.N) if self.transpose else (self.N, self.K))
        self.bias_term = ip.bias_term
        if self.bias_term:
            self.add_blob("bias", (self.N,))

    def per_item(self):
        return self.axis >= 1

    def filler_params(self):
        ip = self.param.inner_product_param
        return [ip.weight_filler, ip.bias_filler][:len(self.blobs)]

    def top_shapes(self, bottom_shapes):
        shape = bottom_shapes[0]
        if count(shape, self.axis) != self.K:
            self.fail(f"input size {count(shape, self.axis)} (shape {shape} from axis "
                      f"{self.axis}) does not match the weights' K = {self.K}")
        return [tuple(shape[:self.axis]) + (self.N,)]

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
        y = F.linear(flat, w, bias)
        return y.reshape(tuple(lead) + (self.N,))
