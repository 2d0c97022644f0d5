"""Caffe's RMSPropSolver (src/caffe/solvers/rmsprop_solver.cpp).

Only ``ComputeUpdateValue`` differs from SGD; clipping, normalization, regularization and
the final ``data -= diff`` are :class:`~caffe_compat.solvers.sgd.SGDSolver`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import SolverError
from .sgd import SGDSolver

_f32 = np.float32


class RMSPropSolver(SGDSolver):
    """Caffe's RMSPropSolver: ``h = (1 - rms_decay) * diff^2 + rms_decay * h``;
    ``diff = local_rate * diff / (sqrt(h) + delta)``."""

    type_name = "RMSProp"

    def check_param(self):
        if self.param.momentum != 0:
            raise SolverError(f"{self.solver_file}: momentum cannot be used with RMSProp "
                              f"(momentum: {self.param.momentum})")
        if not 0 <= self.param.rms_decay <= 1:
            raise SolverError(f"{self.solver_file}: rms_decay should lie between 0 and 1, got "
                              f"{self.param.rms_decay}")

    def compute_update_value(self, i, diff, rate):
        local_rate = float(rate * self._lr_mults[i])
        delta = float(_f32(self.param.delta))
        rms_decay = _f32(self.param.rms_decay)
        h = self.history[i]
        h.mul_(float(rms_decay)).add_(diff * diff, alpha=float(_f32(1) - rms_decay))
        update = torch.sqrt(h).add_(delta)
        torch.div(diff, update, out=update)
        torch.mul(update, local_rate, out=diff)

    def compute_update_values(self, diffs, rate, lr_groups):
        delta = float(_f32(self.param.delta))
        rms_decay = _f32(self.param.rms_decay)
        history = self.history[:len(diffs)]
        torch._foreach_mul_(history, float(rms_decay))
        torch._foreach_add_(history, torch._foreach_mul(diffs, diffs),
                            alpha=float(_f32(1) - rms_decay))
        update = torch._foreach_sqrt(history)
        torch._foreach_add_(update, delta)
        torch._foreach_div_(diffs, update)
        for indices in lr_groups:
            torch._foreach_mul_([diffs[i] for i in indices], self.local_rate(rate, indices))
