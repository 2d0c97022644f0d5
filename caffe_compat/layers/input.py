"""Input: tops fed from outside, with the shapes of ``input_param.shape`` (Caffe's InputLayer)."""
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Input", "InputParameter", {"shape"})


@register_layer("Input")
class Input(Layer):
    item_wise = True
    """One shape for every top, or one shape per top; the net feeds the data."""

    exact_bottoms = 0
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        shapes = [tuple(int(d) for d in s.dim) for s in param.input_param.shape]
        n = len(param.top)
        if len(shapes) not in (0, 1, n):
            self.fail(f"input_param must give 0, 1 or {n} shapes (one per top), got {len(shapes)}")
        if any(d < 0 for s in shapes for d in s):
            self.fail(f"negative dimension in input shapes {shapes}")
        self.shapes = shapes * n if len(shapes) == 1 else shapes

    def top_shapes(self, bottom_shapes):
        return self.shapes or [()] * len(self.param.top)

    def forward(self):
        raise RuntimeError("Input layers are fed by Net.forward")
