"""SSD Caffe's PermuteLayer rules (permute_layer.cpp), read by every engine: ``order`` lists
the bottom axis of each top axis; the axes it leaves out follow in their order. Refusals, as
its CHECKs: an order not below the bottom's axis count, an axis given twice, a
bottom of another axis count than the one set up."""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"order"})
_SECTION = "permute_param"


@frozen
class PermuteRule:
    layer: object
    order: tuple

    @property
    def identity(self):
        return self.order == tuple(range(len(self.order)))

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if len(shape) != len(self.order):
            refuse(self.layer, f"order {list(self.order)} is for {len(self.order)} axes, the "
                   f"input has {len(shape)}")
        return tuple(shape[a] for a in self.order)


def permute_rule(layer, bottom_shapes):
    n = len(bottom_shapes[0])
    order = [int(a) for a in layer.permute_param.order]
    for a in order:
        if not 0 <= a < n:
            refuse(layer, f"order {a} is out of range for a {n}-axis input",
                   f"{_SECTION}.order")
    if len(set(order)) != len(order):
        refuse(layer, f"order {order} repeats an axis", f"{_SECTION}.order")
    return PermuteRule(layer, tuple(order + [a for a in range(n) if a not in order]))
