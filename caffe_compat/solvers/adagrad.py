"""Caffe's AdaGradSolver (src/caffe/solvers/adagrad_solver.cpp).

Only ``ComputeUpdateValue`` differs from SGD; clipping, normalization, regularization and
the final ``data -= diff`` are :class:`~caffe_compat.solvers.sgd.SGDSolver`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import SolverError
from .sgd import SGDSolver

_f32 = np.float32


class AdaGradSolver(SGDSolver):
    """Caffe's AdaGradSolver: ``h += diff^2``; ``diff = local_rate * diff / (sqrt(h) + delta)``."""

    type_name = "AdaGrad"

    def check_param(self):
        if self.param.momentum != 0:
            raise SolverError(f"{self.solver_file}: momentum cannot be used with AdaGrad "
                              f"(momentum: {self.param.momentum})")

    def compute_update_value(self, i, diff, rate):
        local_rate = float(rate * self._lr_mults[i])
        delta = float(_f32(self.param.delta))
        h = self.history[i]
        h.add_(diff * diff)
        update = torch.sqrt(h).add_(delta)
        torch.div(diff, update, out=update)
        torch.mul(update, local_rate, out=diff)

    def compute_update_values(self, diffs, rate, lr_groups):
        delta = float(_f32(self.param.delta))
        history = self.history[:len(diffs)]
        torch._foreach_add_(history, torch._foreach_mul(diffs, diffs))
        update = torch._foreach_sqrt(history)
        torch._foreach_add_(update, delta)
        torch._foreach_div_(diffs, update)
        for indices in lr_groups:
            torch._foreach_mul_([diffs[i] for i in indices], self.local_rate(rate, indices))
