"""PReLU: ``max(x, 0) + a_c * min(x, 0)`` with one learned slope per channel (axis 1), or one
scalar slope with ``channel_shared`` (a 0-axis blob, shape ``()``). Slopes default to the
constant 0.25. As in Caffe, ``x == 0`` counts as negative in backward: the input gradient there
is ``a_c`` (not 1), and the slope gradient sums ``dy * x`` over ``x <= 0``.
"""
import torch

from ..rules.fields import declare
from ..rules.prelu import FIELDS, FILLERS, prelu_rule
from ._neuron import NeuronLayer
from .registry import register_layer


declare("torch", "PReLU", "PReLUParameter", FIELDS | FILLERS)


@register_layer("PReLU")
class PReLU(NeuronLayer):
    blob_names = ("weight",)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = prelu_rule(param, self.bottom_shapes)
        self.channel_shared, self.channels = rule.channel_shared, rule.channels
        self.add_blob("weight", rule.slope_shape())

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, x):
        a = self.weight
        if not self.channel_shared:
            a = a.reshape(self.rule.slope_view(x.dim()))
        # x > 0 selects x itself; x <= 0 (zero included) takes the slope branch, as Caffe does.
        return torch.where(x > 0, x, x * a)
