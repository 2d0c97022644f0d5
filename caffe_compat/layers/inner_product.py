"""InnerProduct: ``top = bottom.reshape(M, K) @ W^T + b`` with Caffe's ``axis`` and ``transpose``.

``K = count(bottom, axis)`` (all axes from ``axis`` on are flattened, C,H,W order), weights
``(N, K)`` or ``(K, N)`` with ``transpose: true``; top shape ``bottom.shape[:axis] + (N,)``.
"""
import torch.nn.functional as F

from .base import Layer, canonical_axis, count
from .registry import register_layer


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
        w = self.weight.t() if self.transpose else self.weight
        y = F.linear(flat, w, self.bias if self.bias_term else None)
        return y.reshape(tuple(lead) + (self.N,))
