"""Caffe's AdamSolver (src/caffe/solvers/adam_solver.cpp).

Only ``ComputeUpdateValue`` differs from SGD; clipping, normalization, regularization and
the final ``data -= diff`` are :class:`~caffe_compat.solvers.sgd.SGDSolver`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from .sgd import SGDSolver

_f32 = np.float32


class AdamSolver(SGDSolver):
    """Caffe's AdamSolver (history: first moments, then second moments), ``t = iter + 1``:
    ``m = (1 - b1) * diff + b1 * m``; ``v = (1 - b2) * diff^2 + b2 * v``;
    ``diff = local_rate * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + delta)``."""

    type_name = "Adam"
    history_sets = 2

    def compute_update_value(self, i, diff, rate):
        local_rate = rate * self._lr_mults[i]
        beta1, beta2 = _f32(self.param.momentum), _f32(self.param.momentum2)
        t = self.iter + 1
        correction = _f32(np.sqrt(1.0 - float(beta2) ** t) / (1.0 - float(beta1) ** t))
        n = len(self._params)
        m, v = self.history[i], self.history[n + i]
        m.mul_(float(beta1)).add_(diff, alpha=float(_f32(1) - beta1))
        v.mul_(float(beta2)).add_(diff * diff, alpha=float(_f32(1) - beta2))
        update = torch.sqrt(v).add_(float(_f32(self.param.delta)))
        torch.div(m, update, out=update)
        torch.mul(update, float(_f32(local_rate * correction)), out=diff)

    def compute_update_values(self, diffs, rate, lr_groups):
        beta1, beta2 = _f32(self.param.momentum), _f32(self.param.momentum2)
        t = self.iter + 1
        correction = _f32(np.sqrt(1.0 - float(beta2) ** t) / (1.0 - float(beta1) ** t))
        n = len(self._params)
        m, v = self.history[:n], self.history[n:2 * n]
        torch._foreach_mul_(m, float(beta1))
        torch._foreach_add_(m, diffs, alpha=float(_f32(1) - beta1))
        torch._foreach_mul_(v, float(beta2))
        torch._foreach_add_(v, torch._foreach_mul(diffs, diffs), alpha=float(_f32(1) - beta2))
        update = torch._foreach_sqrt(v)
        torch._foreach_add_(update, float(_f32(self.param.delta)))
        update = torch._foreach_div(m, update)
        for indices in lr_groups:
            local_rate = rate * self._lr_mults[indices[0]]
            torch._foreach_mul_([update[i] for i in indices],
                                float(_f32(local_rate * correction)))
        torch._foreach_copy_(diffs, update)
