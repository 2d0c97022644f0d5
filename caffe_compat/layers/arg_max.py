"""ArgMax: the indices (and optionally values) of the ``top_k`` largest entries.

Without ``axis`` each item is flattened (``count(1)`` entries) and the top has shape
``(N, 1, top_k)`` -- or ``(N, 2, top_k)`` with ``out_max_val``: indices, then values -- padded
with trailing 1s to the bottom's number of axes (at least 3): ``(N, 1|2, top_k, 1)`` for 4-D.
With ``axis`` the top is the bottom's shape with ``shape[axis] = top_k`` and holds the indices,
or only the values when ``out_max_val`` is set. Ties follow Caffe's ``partial_sort`` with
``greater<pair<value, index>>``: among equal values the larger index comes first. Indices are
stored as floats. Caffe has no backward for this layer: the top carries no gradient.
"""
import torch

from .base import canonical_axis, count
from ._neuron import NoBackwardLayer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "ArgMax", "ArgMaxParameter", {"out_max_val", "top_k", "axis"})


def sort_desc_larger_index_first(x):
    """Sort the last axis descending; equal values ordered by descending index."""
    n = x.shape[-1]
    values, flipped_idx = torch.sort(x.flip(-1), dim=-1, descending=True, stable=True)
    return values, (n - 1) - flipped_idx


@register_layer("ArgMax")
class ArgMax(NoBackwardLayer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        ap = param.argmax_param
        self.out_max_val = ap.out_max_val
        self.top_k = int(ap.top_k)
        self.has_axis = ap.HasField("axis")
        shape = self.bottom_shapes[0]
        if self.top_k < 1:
            self.fail(f"top_k must be at least 1, got {self.top_k}")
        if self.has_axis:
            self.axis = canonical_axis(ap.axis, len(shape), self.name)
            if self.top_k > shape[self.axis]:
                self.fail(f"top_k ({self.top_k}) exceeds the size of axis {self.axis} "
                          f"({shape[self.axis]}) of bottom shape {shape}")
        else:
            if len(shape) < 1:
                self.fail("the bottom needs at least one axis")
            if self.top_k > count(shape, 1):
                self.fail(f"top_k ({self.top_k}) exceeds the flattened item size "
                          f"({count(shape, 1)}) of bottom shape {shape}")

    def top_shapes(self, bottom_shapes):
        shape = list(bottom_shapes[0])
        if self.has_axis:
            shape[self.axis] = self.top_k
            return [tuple(shape)]
        out = [1] * max(len(shape), 3)
        out[0] = shape[0]
        out[1] = 2 if self.out_max_val else 1
        out[2] = self.top_k
        return [tuple(out)]

    def forward(self, x):
        x = x.detach()
        if self.has_axis:
            moved = x.movedim(self.axis, -1)
            values, idx = sort_desc_larger_index_first(moved)
            picked = values if self.out_max_val else idx.to(x.dtype)
            return picked[..., :self.top_k].movedim(-1, self.axis).contiguous()
        flat = x.reshape(x.shape[0], -1)
        values, idx = sort_desc_larger_index_first(flat)
        parts = [idx[:, :self.top_k].to(x.dtype)]
        if self.out_max_val:
            parts.append(values[:, :self.top_k])
        out = torch.stack(parts, dim=1)
        return out.reshape(self.top_shapes([tuple(x.shape)])[0])
