"""Input: tops of the shapes ``input_param`` gives (one shape for every top, or one each);
the program writes their values (Caffe's InputLayer forwards nothing)."""
from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Input", "InputParameter", {"shape"})


@register("Input")
class Input(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        shapes = [tuple(int(d) for d in s.dim) for s in param.input_param.shape]
        n = len(param.top)
        need(not bottom_shapes and n and len(shapes) in (1, n), "Input without one shape per top")
        need(all(d >= 0 for s in shapes for d in s), "negative Input dimension")
        self.shapes = shapes * n if len(shapes) == 1 else shapes

    def top_shapes(self, bottom_shapes):
        return list(self.shapes)

    def forward(self, bottoms, tops, params):
        pass

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        pass
