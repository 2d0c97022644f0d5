"""The TanH layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

from .elementwise import Elementwise
from .program import emitter


@emitter("TanH")
class _TanH(Elementwise):
    """TanH: torch.tanh (MKL's vsTanh); backward ATen's tanh_backward."""

    forward_op, backward_op, check = "TANH_FWD", "TANH_BWD", "tanh"
    backward_check = "tanh_backward"
