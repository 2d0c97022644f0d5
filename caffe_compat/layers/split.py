"""Split: one bottom copied to several tops (inserted by Caffe wherever a blob has several
consumers); each top is its own autograd node so each consumer's gradient stays visible.

Caffe's Backward_cpu sums the tops' diffs into the bottom's (``caffe_add`` of the first two,
then ``caffe_axpy`` of the others). The explicit calls (Layer.explicit_forward) do so for up to
two tops, where the sum is one addition and so the bits autograd's accumulation gives in any
order; with more tops the order of autograd's additions is its own, and Split keeps autograd.
"""
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

    def explicit_ready(self):
        return len(self.param.top) <= 2

    def explicit_forward(self, x):
        return tuple(x for _ in self.param.top), None

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        present = [d for d in top_diffs if d is not None]
        if not bottom_need[0] or not present:
            return [None], []
        if len(present) == 1:
            return [present[0]], []
        return [present[0] + present[1]], []
