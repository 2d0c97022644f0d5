"""ReLU: ``max(x, 0) + negative_slope * min(x, 0)`` (Caffe's ReLULayer)."""
import torch
import torch.nn.functional as F

from ._neuron import NeuronLayer
from .registry import register_layer
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.relu import FIELDS, relu_slope

declare("torch", "ReLU", "ReLUParameter", FIELDS, no_effect=ENGINE_FIELD)


@register_layer("ReLU")
class ReLU(NeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.slope = relu_slope(param)

    def forward(self, x):
        if self.slope == 0.0:
            return torch.relu(x)
        return F.leaky_relu(x, self.slope)

    # Caffe's Forward_cpu / Backward_cpu as explicit calls (see Layer.explicit_forward): the
    # forward above, and the backward autograd derives for it (threshold_backward on the
    # output for ReLU, leaky_relu_backward on the input otherwise), without the graph.
    def explicit_forward(self, x):
        y = self.forward(x)
        return (y,), (x, y)

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        x, y = saved
        if not bottom_need[0]:
            return [None], []
        if self.slope == 0.0:
            return [torch.ops.aten.threshold_backward(top_diffs[0], y, 0)], []
        return [torch.ops.aten.leaky_relu_backward(top_diffs[0], x, self.slope, False)], []

    def forward_inplace(self, x):
        if self.slope == 0.0:
            return torch.relu_(x)
        return F.leaky_relu_(x, self.slope)
