"""ReLU in the array engine's compiled loop."""
from __future__ import annotations

from ...rules.fields import ENGINE_FIELD, declare
from .program import Refused, emitter

# a negative slope leaves the layer to the per-layer loop
declare("array-loop", "ReLU", "ReLUParameter", (), refuses={"negative_slope"},
        no_effect=ENGINE_FIELD)


@emitter("ReLU")
class _ReLU:
    """``max(x, 0)`` as numpy's maximum gives it; backward Caffe's ``dy * (x > 0)``."""

    def forward(self, prog, i, node, layer):
        if layer.slope != 0:
            raise Refused("ReLU with a negative slope")
        prog.op("ARELU_FWD", prog.data(node.bottoms[0]), prog.data(node.tops[0]),
                prog.count(node.bottoms[0]))

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        if bottom_need[0]:
            prog.op("ARELU_BWD", prog.diff(node.tops[0]), prog.data(node.bottoms[0]),
                    prog.diff(node.bottoms[0]), prog.count(node.bottoms[0]))
