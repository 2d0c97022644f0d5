"""The ReLU layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np

from .program import Refused, emitter


@emitter("ReLU")
class _ReLU:
    """ReLU without a negative slope: ``max(0, x)``; backward zero where the top is <= 0."""

    def forward(self, prog, i, node, module):
        if module.slope != 0.0:
            raise Refused("ReLU with a negative slope")
        x_name, = node.bottoms
        top, = node.tops
        shape = prog.shape[x_name]
        count = int(np.prod(shape, dtype=np.int64))
        y = prog.scratch(count)
        prog.op("RELU_FWD", prog.data[x_name], y, count)
        prog.check("relu", (count,))
        prog.data[top] = y
        prog.shape[top] = shape
        prog.saved[i] = (y, count)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        y, count = prog.saved[i]
        dy = prog.top_diff(node.tops[0])
        dx = prog.scratch(count)
        prog.op("RELU_BWD", dy, y, dx, count)
        prog.diff[node.bottoms[0]] = dx
