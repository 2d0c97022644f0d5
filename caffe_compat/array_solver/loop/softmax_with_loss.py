"""SoftmaxWithLoss in the array engine's compiled loop."""
from __future__ import annotations

import math

from ...rules.fields import ENGINE_FIELD, declare
from .program import Refused, emitter

declare("array-loop", "SoftmaxWithLoss", "SoftmaxParameter", {"axis"}, no_effect=ENGINE_FIELD)


@emitter("SoftmaxWithLoss")
class _SoftmaxWithLoss:
    """The layer's row form (one score per class and item, no ignored label): what
    ``kernels.array_loop.softmax_loss_rows`` computes, the loss into the top's array; backward
    ``(p - onehot) * (dloss / norm)``. Labels out of range stop the loop before the
    iteration, and Python reports them."""

    def forward(self, prog, i, node, layer):
        x_name, label_name = node.bottoms
        shape = prog.shape(x_name)
        if layer.ignore is not None or len(node.tops) != 1 or \
                math.prod(shape[layer.axis + 1:]) != 1:
            raise Refused("SoftmaxWithLoss other than rows without ignore_label")
        m, c = math.prod(shape[:layer.axis]), shape[layer.axis]
        if m == 0 or prog.count(label_name) != m:
            raise Refused("SoftmaxWithLoss sizes")
        norm = layer.loss.normalizer(m, 1, m)
        prob = prog.scratch(m * c)
        prog.op("ASMLOSS_FWD", prog.data(x_name), prog.data(label_name), prob,
                prog.data(node.tops[0]), m, c, prog.const(norm))
        prog.saved[i] = (prob, m, c, norm)

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        if not bottom_need[0]:
            return
        prob, m, c, norm = prog.saved[i]
        prog.op("SMLOSS_BWD", prob, prog.data(node.bottoms[1]), prog.diff(node.tops[0]),
                prog.diff(node.bottoms[0]), m, c, prog.const(norm))
