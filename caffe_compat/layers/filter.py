"""Filter: the items (indices of axis 0) of bottoms 0..k-1 whose selector is non-zero.

Caffe's FilterLayer: the last bottom is the selector, shape (N,) or (N, 1, ...) (every axis but
the first of size 1), and each other bottom must have N items; k tops for k + 1 bottoms. An item
is kept where its selector value is non-zero (as a C++ truth test: NaN keeps it); the tops hold
the kept items in their original order, so their first axis varies from one forward to the
next (at set-up, before any data, Caffe gives them all N items, as ``top_shapes`` does here).

Backward: each kept item receives its top's gradient, every other item 0. The selector gets no
gradient (Caffe refuses to back-propagate to it and aborts when asked, e.g. under
``force_backward``; here it is simply left without one).
"""
import torch

from .base import Layer
from .registry import register_layer


@register_layer("Filter")
class Filter(Layer):
    min_bottoms = 2
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        if len(param.top) != len(self.bottom_shapes) - 1:
            self.fail(f"needs one top per filtered bottom ({len(self.bottom_shapes) - 1}: every "
                      f"bottom but the last, the selector), got {len(param.top)}")
        self.top_shapes(self.bottom_shapes)

    def allow_force_backward(self, bottom_index):
        return bottom_index != len(self.bottom_shapes) - 1

    def top_shapes(self, bottom_shapes):
        *data, selector = (tuple(s) for s in bottom_shapes)
        if len(selector) < 1 or any(d != 1 for d in selector[1:]):
            self.fail(f"the selector (last bottom) must have shape (N,) or (N, 1, ...), got "
                      f"{selector}")
        for i, shape in enumerate(data):
            if len(shape) < 1 or shape[0] != selector[0]:
                self.fail(f"bottom {i} has shape {shape}: every bottom must have the selector's "
                          f"{selector[0]} items on axis 0")
        return [shape for shape in data]

    def forward(self, *bottoms):
        *data, selector = bottoms
        self.top_shapes([b.shape for b in bottoms])
        keep = torch.nonzero(selector.detach().reshape(-1) != 0).reshape(-1)
        tops = tuple(b.index_select(0, keep.to(b.device)) for b in data)
        return tops[0] if len(tops) == 1 else tops
