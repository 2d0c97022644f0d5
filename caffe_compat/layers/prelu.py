"""PReLU: ``max(x, 0) + a_c * min(x, 0)`` with one learned slope per channel (axis 1), or one
scalar slope with ``channel_shared`` (a 0-axis blob, shape ``()``). Slopes default to the
constant 0.25. As in Caffe, ``x == 0`` counts as negative in backward: the input gradient there
is ``a_c`` (not 1), and the slope gradient sums ``dy * x`` over ``x <= 0``.
"""
import torch

from ..proto import caffe_pb2
from ._neuron import NeuronLayer
from .registry import register_layer


@register_layer("PReLU")
class PReLU(NeuronLayer):
    blob_names = ("weight",)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        shape = self.bottom_shapes[0]
        if len(shape) < 2:
            self.fail(f"the bottom needs at least 2 axes (N, C, ...), got shape {shape}")
        self.channel_shared = param.prelu_param.channel_shared
        self.channels = shape[1]
        self.add_blob("weight", () if self.channel_shared else (self.channels,))

    def filler_params(self):
        pp = self.param.prelu_param
        if pp.HasField("filler"):
            return [pp.filler]
        return [caffe_pb2.FillerParameter(type="constant", value=0.25)]

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if len(shape) < 2 or (not self.channel_shared and shape[1] != self.channels):
            self.fail(f"bottom shape {shape} does not match the {self.channels} slopes")
        return [shape]

    def forward(self, x):
        a = self.weight
        if not self.channel_shared:
            a = a.reshape((1, -1) + (1,) * (x.dim() - 2))
        # x > 0 selects x itself; x <= 0 (zero included) takes the slope branch, as Caffe does.
        return torch.where(x > 0, x, x * a)
