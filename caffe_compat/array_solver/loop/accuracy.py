"""Accuracy in the array engine's compiled loop."""
from __future__ import annotations

import math

from ...rules.fields import declare
from .program import Refused, emitter

# an ignore_label leaves the layer to the per-layer loop
declare("array-loop", "Accuracy", "AccuracyParameter", {"top_k", "axis"},
        refuses={"ignore_label"})


@emitter("Accuracy")
class _Accuracy:
    """The layer's row form (one score per class and item, every label counted): the classes
    scoring at least the true one counted, ``correct / M`` in float32. Labels out of range
    stop the loop before the iteration."""

    def forward(self, prog, i, node, layer):
        x_name, label_name = node.bottoms
        shape = prog.shape(x_name)
        if layer.ignore is not None or math.prod(shape[layer.axis + 1:]) != 1:
            raise Refused("Accuracy other than rows without ignore_label")
        m, c = math.prod(shape[:layer.axis]), shape[layer.axis]
        if m == 0 or prog.count(label_name) != m:
            raise Refused("Accuracy sizes")
        prog.op("ACCURACY", prog.data(x_name), prog.data(label_name), prog.data(node.tops[0]),
                m, c, layer.top_k)

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        pass
