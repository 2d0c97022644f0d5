"""The ReLU layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

from .elementwise import Elementwise
from .program import Refused, emitter


@emitter("ReLU")
class _ReLU(Elementwise):
    """ReLU without a negative slope: ``max(0, x)``; backward zero where the top is <= 0."""

    forward_op, backward_op, check = "RELU_FWD", "RELU_BWD", "relu"

    def forward(self, prog, i, node, module):
        if module.slope != 0.0:
            raise Refused("ReLU with a negative slope")
        super().forward(prog, i, node, module)
