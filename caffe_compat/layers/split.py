"""Split: one bottom copied to several tops (inserted by Caffe wherever a blob has several
consumers); each top is its own autograd node so each consumer's gradient stays visible."""
from .base import Layer
from .registry import register_layer


@register_layer("Split")
class Split(Layer):
    item_wise = True
    exact_bottoms = 1
    min_tops = 1

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]] * len(self.param.top)

    def forward(self, x):
        return tuple(x.view_as(x) for _ in self.param.top)
