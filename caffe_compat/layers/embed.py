"""Embed: a lookup table. Each bottom value is an index into the ``input_dim`` rows of the
weights ``(input_dim, num_output)`` (the transpose of InnerProduct's layout); top shape
``bottom.shape + (num_output,)``, plus the bias ``(num_output,)`` with ``bias_term`` (default).

Indices are floats truncated toward zero (``static_cast<int>``); an index outside
``[0, input_dim)`` is an error here (Caffe only checks it in debug builds). No gradient reaches
the index input; the weight gradient accumulates over repeated indices.
"""
import torch

from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Embed", "EmbedParameter",
        {"num_output", "input_dim", "bias_term", "weight_filler", "bias_filler"})


@register_layer("Embed")
class Embed(Layer):
    blob_names = ("weight", "bias")
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        ep = param.embed_param
        self.N = int(ep.num_output)
        self.K = int(ep.input_dim)
        if self.N <= 0:
            self.fail(f"embed_param.num_output must be positive, got {self.N}")
        if self.K <= 0:
            self.fail(f"embed_param.input_dim must be positive, got {self.K}")
        self.bias_term = ep.bias_term
        self.add_blob("weight", (self.K, self.N))
        if self.bias_term:
            self.add_blob("bias", (self.N,))

    def filler_params(self):
        ep = self.param.embed_param
        return [ep.weight_filler, ep.bias_filler][:len(self.blobs)]

    def allow_force_backward(self, bottom_index):
        return False

    def top_shapes(self, bottom_shapes):
        return [tuple(bottom_shapes[0]) + (self.N,)]

    def forward(self, x):
        idx = x.detach().to(torch.int64)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.K):
            self.fail(f"index out of range [0, {self.K}): got values from {int(idx.min())} to "
                      f"{int(idx.max())}")
        y = self.weight[idx]
        return y + self.bias if self.bias_term else y
