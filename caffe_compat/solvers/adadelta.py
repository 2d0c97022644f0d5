"""Caffe's AdaDeltaSolver (src/caffe/solvers/adadelta_solver.cpp).

Only ``ComputeUpdateValue`` differs from SGD; clipping, normalization, regularization and
the final ``data -= diff`` are :class:`~caffe_compat.solvers.sgd.SGDSolver`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from .sgd import SGDSolver

_f32 = np.float32


class AdaDeltaSolver(SGDSolver):
    """Caffe's AdaDeltaSolver (history: gradient averages, then update averages):
    ``h1 = (1 - m) * diff^2 + m * h1``; ``u = diff * sqrt((h2 + delta) / (h1 + delta))``;
    ``h2 = (1 - m) * u^2 + m * h2``; ``diff = local_rate * u``."""

    type_name = "AdaDelta"
    history_sets = 2

    def compute_update_value(self, i, diff, rate):
        local_rate = float(rate * self._lr_mults[i])
        delta = float(_f32(self.param.delta))
        momentum = _f32(self.param.momentum)
        one_minus = float(_f32(1) - momentum)
        n = len(self._params)
        h1, h2 = self.history[i], self.history[n + i]
        h1.mul_(float(momentum)).add_(diff * diff, alpha=one_minus)
        update = h2 + delta
        update.div_(h1 + delta)
        update.sqrt_()
        diff.mul_(update)
        h2.mul_(float(momentum)).add_(diff * diff, alpha=one_minus)
        diff.mul_(local_rate)

    def compute_update_values(self, diffs, rate, lr_groups):
        delta = float(_f32(self.param.delta))
        momentum = _f32(self.param.momentum)
        one_minus = float(_f32(1) - momentum)
        n = len(self._params)
        h1, h2 = self.history[:n], self.history[n:2 * n]
        torch._foreach_mul_(h1, float(momentum))
        torch._foreach_add_(h1, torch._foreach_mul(diffs, diffs), alpha=one_minus)
        update = torch._foreach_add(h2, delta)
        torch._foreach_div_(update, torch._foreach_add(h1, delta))
        torch._foreach_sqrt_(update)
        torch._foreach_mul_(diffs, update)
        torch._foreach_mul_(h2, float(momentum))
        torch._foreach_add_(h2, torch._foreach_mul(diffs, diffs), alpha=one_minus)
        for indices in lr_groups:
            torch._foreach_mul_([diffs[i] for i in indices], self.local_rate(rate, indices))
