"""Permute (SSD): reorder the axes; ``order`` lists the source axis of each output axis.

As SSD's Caffe: axes missing from ``order`` follow in their original order (OpenCV's dnn wants
all of them); an axis out of range or given twice is an error. Backward: autograd.
"""
from .base import Layer
from .registry import register_layer


@register_layer("Permute")
class Permute(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        n = len(self.bottom_shapes[0])
        order = [int(a) for a in param.permute_param.order]
        for a in order:
            if a >= n:
                self.fail(f"order {a} is out of range for a {n}-axis input")
        if len(set(order)) != len(order):
            self.fail(f"order {order} repeats an axis")
        self.order = order + [a for a in range(n) if a not in order]

    def per_item(self):
        return self.order[0] == 0

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if len(shape) != len(self.order):
            self.fail(f"order {self.order} is for {len(self.order)} axes, the input has "
                      f"{len(shape)}")
        return [tuple(shape[a] for a in self.order)]

    def forward(self, x):
        return x.permute(self.order).contiguous()
