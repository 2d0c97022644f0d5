"""ArgMax (:mod:`caffe_compat.rules.arg_max`: parameters, top shapes, ranking, refusals) on
torch: a stable descending sort of the reversed values gives Caffe's order among ties (the
larger index first). Caffe has no backward for this layer: the top carries no gradient.
"""
import torch

from ._neuron import NoBackwardLayer
from .registry import register_layer
from ..rules.arg_max import FIELDS, arg_max_rule
from ..rules.fields import declare

declare("torch", "ArgMax", "ArgMaxParameter", FIELDS)


def sort_desc_larger_index_first(x):
    """Sort the last axis descending; equal values ordered by descending index."""
    n = x.shape[-1]
    values, flipped_idx = torch.sort(x.flip(-1), dim=-1, descending=True, stable=True)
    return values, (n - 1) - flipped_idx


@register_layer("ArgMax")
class ArgMax(NoBackwardLayer):
    rule_of = staticmethod(arg_max_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.out_max_val, self.top_k = rule.out_max_val, rule.top_k
        self.has_axis, self.axis = rule.axis is not None, rule.axis

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
