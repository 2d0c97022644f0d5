"""The Accuracy layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np

from .program import Refused, emitter


@emitter("Accuracy")
class _Accuracy:
    """Accuracy changes nothing the next iteration reads: skipped, unless its top is a loss
    or feeds a layer (then refused)."""

    def forward(self, prog, i, node, module):
        weights = prog.store.nodes[i][2]
        if any(weights):
            raise Refused("Accuracy with a loss weight")

    def infer(self, prog, i, node, module):
        """Accuracy._numpy_accuracy on (M, C) scores, one top, no ignore_label."""
        x_name, label_name = node.bottoms
        shape = prog.shape[x_name]
        if module.ignore_label is not None or module.axis != 1 or len(shape) != 2 or \
                len(node.tops) != 1 or \
                int(np.prod(prog.shape[label_name], dtype=np.int64)) != shape[0]:
            raise Refused("Accuracy other than (M, C) with one top")
        out = prog.scratch(1)
        prog.op("ACCURACY", prog.data[x_name], prog.data[label_name], out, shape[0],
                shape[1], module.top_k)
        top, = node.tops
        prog.data[top] = out
        prog.shape[top] = ()

    def backward(self, prog, i, node, module, wanted, want_params):
        raise Refused("Accuracy in the backward pass")
