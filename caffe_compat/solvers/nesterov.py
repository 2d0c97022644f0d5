"""Caffe's NesterovSolver (src/caffe/solvers/nesterov_solver.cpp).

Only ``ComputeUpdateValue`` differs from SGD; clipping, normalization, regularization and
the final ``data -= diff`` are :class:`~caffe_compat.solvers.sgd.SGDSolver`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from .sgd import SGDSolver

_f32 = np.float32


class NesterovSolver(SGDSolver):
    """Caffe's NesterovSolver: ``h' = local_rate * diff + momentum * h``;
    ``diff = (1 + momentum) * h' - momentum * h``."""

    type_name = "Nesterov"

    def compute_update_value(self, i, diff, rate):
        local_rate = float(rate * self._lr_mults[i])
        momentum = _f32(self.param.momentum)
        h = self.history[i]
        previous = h.clone()
        h.mul_(float(momentum)).add_(diff, alpha=local_rate)
        torch.mul(h, float(_f32(1) + momentum), out=diff)
        diff.add_(previous, alpha=-float(momentum))

    def compute_update_values(self, diffs, rate, lr_groups):
        momentum = _f32(self.param.momentum)
        history = self.history[:len(diffs)]
        previous = [h.clone() for h in history]
        torch._foreach_mul_(history, float(momentum))
        for indices in lr_groups:
            torch._foreach_add_([history[i] for i in indices], [diffs[i] for i in indices],
                                alpha=self.local_rate(rate, indices))
        torch._foreach_copy_(diffs, history)
        torch._foreach_mul_(diffs, float(_f32(1) + momentum))
        torch._foreach_add_(diffs, previous, alpha=-float(momentum))
