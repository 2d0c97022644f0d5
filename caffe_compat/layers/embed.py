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
from ..rules.embed import FIELDS, FILLERS, embed_rule
from ..rules.fields import declare

declare("torch", "Embed", "EmbedParameter", FIELDS | FILLERS)


@register_layer("Embed")
class Embed(Layer):
    rule_of = staticmethod(embed_rule)
    blob_names = ("weight", "bias")
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.N, self.K, self.bias_term = rule.num_output, rule.input_dim, rule.bias_term
        for name, shape in zip(self.blob_names, rule.blob_shapes()):
            self.add_blob(name, shape)

    def allow_force_backward(self, bottom_index):
        return False

    def forward(self, x):
        idx = x.detach().to(torch.int64)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.K):
            self.fail(f"index out of range [0, {self.K}): got values from {int(idx.min())} to "
                      f"{int(idx.max())}")
        y = self.weight[idx]
        return y + self.bias if self.bias_term else y
