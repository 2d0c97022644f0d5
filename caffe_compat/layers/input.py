"""Input: tops fed from outside, with the shapes of its rule (:mod:`caffe_compat.rules.input`,
Caffe's InputLayer)."""
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare
from ..rules.input import FIELDS, input_rule

declare("torch", "Input", "InputParameter", FIELDS)


@register_layer("Input")
class Input(Layer):
    """One shape for every top, or one shape per top; the net feeds the data."""

    item_wise = True
    exact_bottoms = 0
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.shapes = list(input_rule(param).shapes)

    def top_shapes(self, bottom_shapes):
        return self.shapes or [()] * len(self.param.top)

    def forward(self):
        raise RuntimeError("Input layers are fed by Net.forward")
