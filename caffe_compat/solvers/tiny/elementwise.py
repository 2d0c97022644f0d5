"""Neuron layers (one bottom, one top, value by value) in the compiled training loop
(:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np


class Elementwise:
    """A neuron layer: ``forward_op`` / ``backward_op`` the C loop's form of its forward and
    of the backward the per-layer loop runs for it (explicit calls or autograd), checked
    against torch as ``check`` and, where the backward has a kernel of its own,
    ``backward_check``."""

    forward_op = backward_op = check = backward_check = None
    scratch_factor = 0

    def forward(self, prog, i, node, module):
        x_name, = node.bottoms
        top, = node.tops
        shape = prog.shape[x_name]
        count = int(np.prod(shape, dtype=np.int64))
        y = prog.scratch(count)
        extra = (prog.scratch(self.scratch_factor * count),) if self.scratch_factor else ()
        prog.op(self.forward_op, prog.data[x_name], y, count, *extra)
        prog.check(self.check, (count,))
        prog.data[top] = y
        prog.shape[top] = shape
        prog.saved[i] = (y, count)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        y, count = prog.saved[i]
        dy = prog.top_diff(node.tops[0])
        dx = prog.scratch(count)
        prog.op(self.backward_op, dy, y, dx, count)
        if self.backward_check:
            prog.check(self.backward_check, (count,))
        prog.diff[node.bottoms[0]] = dx
