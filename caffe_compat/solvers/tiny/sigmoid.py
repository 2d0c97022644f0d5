"""The Sigmoid layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

from .elementwise import Elementwise
from .program import emitter


@emitter("Sigmoid")
class _Sigmoid(Elementwise):
    """Sigmoid: Caffe's ``0.5 * tanh(0.5 x) + 0.5`` in double (torch's float64 tanh: MKL's
    vdTanh); backward ``dy * y * (1 - y)`` (its _CaffeBackward formula)."""

    forward_op, backward_op, check, scratch_factor = "SIGMOID_FWD", "SIGMOID_BWD", "sigmoid", 2
