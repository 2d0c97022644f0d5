"""Caffe's solver types other than SGD (src/caffe/solvers/*_solver.cpp): Nesterov, AdaGrad,
RMSProp, AdaDelta and Adam.

Only ``ComputeUpdateValue`` differs from SGD; clipping, normalization, regularization and
the final ``data -= diff`` are :class:`~caffe_compat.solvers.sgd.SGDSolver`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import SolverError
from .sgd import SGDSolver

_f32 = np.float32


def _no_momentum(solver):
    """Caffe's check of AdaGrad and RMSProp: no momentum."""
    if solver.param.momentum != 0:
        raise SolverError(f"{solver.solver_file}: momentum cannot be used with "
                          f"{solver.type_name} (momentum: {solver.param.momentum})")


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


class _RootScaledSolver(SGDSolver):
    """Caffe's AdaGrad and RMSProp: the history ``h`` of squared gradients (each its own rule:
    :meth:`accumulate` / :meth:`accumulate_all`), then ``diff = local_rate * diff /
    (sqrt(h) + delta)``."""

    check_param = _no_momentum

    def compute_update_value(self, i, diff, rate):
        local_rate = float(rate * self._lr_mults[i])
        h = self.history[i]
        self.accumulate(h, diff)
        update = torch.sqrt(h).add_(float(_f32(self.param.delta)))
        torch.div(diff, update, out=update)
        torch.mul(update, local_rate, out=diff)

    def compute_update_values(self, diffs, rate, lr_groups):
        history = self.history[:len(diffs)]
        self.accumulate_all(history, diffs)
        update = torch._foreach_sqrt(history)
        torch._foreach_add_(update, float(_f32(self.param.delta)))
        torch._foreach_div_(diffs, update)
        for indices in lr_groups:
            torch._foreach_mul_([diffs[i] for i in indices], self.local_rate(rate, indices))


class AdaGradSolver(_RootScaledSolver):
    """Caffe's AdaGradSolver: ``h += diff^2``; ``diff = local_rate * diff / (sqrt(h) + delta)``."""

    type_name = "AdaGrad"

    def accumulate(self, h, diff):
        h.add_(diff * diff)

    def accumulate_all(self, history, diffs):
        torch._foreach_add_(history, torch._foreach_mul(diffs, diffs))


class RMSPropSolver(_RootScaledSolver):
    """Caffe's RMSPropSolver: ``h = (1 - rms_decay) * diff^2 + rms_decay * h``;
    ``diff = local_rate * diff / (sqrt(h) + delta)``."""

    type_name = "RMSProp"

    def check_param(self):
        _no_momentum(self)
        if not 0 <= self.param.rms_decay <= 1:
            raise SolverError(f"{self.solver_file}: rms_decay should lie between 0 and 1, got "
                              f"{self.param.rms_decay}")

    def accumulate(self, h, diff):
        rms_decay = _f32(self.param.rms_decay)
        h.mul_(float(rms_decay)).add_(diff * diff, alpha=float(_f32(1) - rms_decay))

    def accumulate_all(self, history, diffs):
        rms_decay = _f32(self.param.rms_decay)
        torch._foreach_mul_(history, float(rms_decay))
        torch._foreach_add_(history, torch._foreach_mul(diffs, diffs),
                            alpha=float(_f32(1) - rms_decay))


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
