"""Caffe's learning-rate policies (SGDSolver::GetLearningRate).

``rate(param, iter, current_step)`` returns ``(rate, current_step, message)``: the float32 rate
of the update done at iteration ``iter``, the step counter after this call and, for
``multistep``, the "MultiStep Status" line Caffe logs when the counter moves. The counter is
part of the solver state (``SolverState.current_step``):

- ``fixed``: ``base_lr``.
- ``step``: ``base_lr * gamma ^ floor(iter / stepsize)``; the counter is recomputed from ``iter``.
- ``exp``: ``base_lr * gamma ^ iter``.
- ``inv``: ``base_lr * (1 + gamma * iter) ^ (-power)``.
- ``multistep``: ``base_lr * gamma ^ current_step``; the counter advances by at most one per
  call, when ``iter >= stepvalue[current_step]`` (so two step values at the same iteration
  take two iterations, as in Caffe).
- ``poly``: ``base_lr * (1 - iter / max_iter) ^ power``.
- ``sigmoid``: ``base_lr / (1 + exp(-gamma * (iter - stepsize)))`` (Caffe 1.0 requires
  ``gamma >= 0``, so this is a warm-up ramp).

Float widths follow Caffe (``Dtype`` = float32 for the solver fields and the small sums that
are written in ``Dtype``; ``pow`` results in double; the final rate rounded to float32).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import SolverError

POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid")

_f32 = np.float32


def _pow(x, y):
    """C's pow in double: nan for a negative base with a fractional power, inf on overflow."""
    try:
        return math.pow(x, y)
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf


def check(param, where="solver"):
    """SolverError for a policy Caffe would abort on (unknown name, bad gamma/stepsize)."""
    policy = param.lr_policy
    if not param.HasField("lr_policy"):
        raise SolverError(f"{where}: lr_policy is not set (one of {', '.join(POLICIES)})")
    if policy not in POLICIES:
        raise SolverError(f"{where}: unknown learning rate policy '{policy}' (Caffe 1.0 knows "
                          f"{', '.join(POLICIES)})")
    if policy in ("step", "exp", "inv", "multistep", "sigmoid") and param.gamma < 0:
        raise SolverError(f"{where}: lr_policy '{policy}' needs gamma >= 0, got {param.gamma}")
    if policy in ("step", "sigmoid") and param.stepsize <= 0:
        raise SolverError(f"{where}: lr_policy '{policy}' needs stepsize > 0, got "
                          f"{param.stepsize}")
    if policy == "poly" and param.max_iter <= 0:
        raise SolverError(f"{where}: lr_policy 'poly' needs max_iter > 0, got {param.max_iter}")
    if policy == "multistep":
        values = list(param.stepvalue)
        if any(b < a for a, b in zip(values, values[1:])):
            raise SolverError(f"{where}: multistep stepvalue must be non-decreasing, got "
                              f"{values}")


def rate(param, iteration, current_step):
    """``(rate, new_current_step, message or None)`` for the update at ``iteration``."""
    policy = param.lr_policy
    base_lr = _f32(param.base_lr)
    message = None
    if policy == "fixed":
        value = base_lr
    elif policy == "step":
        current_step = iteration // param.stepsize
        value = float(base_lr) * _pow(float(_f32(param.gamma)), current_step)
    elif policy == "exp":
        value = float(base_lr) * _pow(float(_f32(param.gamma)), iteration)
    elif policy == "inv":
        inner = _f32(1) + _f32(param.gamma) * _f32(iteration)
        value = float(base_lr) * _pow(float(inner), -float(_f32(param.power)))
    elif policy == "multistep":
        if current_step < len(param.stepvalue) and iteration >= param.stepvalue[current_step]:
            current_step += 1
            message = f"MultiStep Status: Iteration {iteration}, step = {current_step}"
        value = float(base_lr) * _pow(float(_f32(param.gamma)), current_step)
    elif policy == "poly":
        frac = _f32(1) - _f32(iteration) / _f32(param.max_iter)
        value = float(base_lr) * _pow(float(frac), float(_f32(param.power)))
    elif policy == "sigmoid":
        x = -_f32(param.gamma) * (_f32(iteration) - _f32(param.stepsize))
        with np.errstate(over="ignore"):
            value = base_lr * (_f32(1) / (_f32(1) + np.exp(x)))
    else:
        raise SolverError(f"unknown learning rate policy '{policy}'")
    return _f32(value), int(current_step), message


class RateMixin:
    """The learning rate of both engines' solvers (``param``, ``iter``, ``current_step``)."""

    def get_learning_rate(self):
        """The rate of the update at ``iter`` (advances ``current_step`` as Caffe does)."""
        value, self.current_step, message = rate(self.param, self.iter, self.current_step)
        if message:
            self.log.info(message, "sgd_solver.cpp:50")
        return value

    @property
    def lr(self):
        """The learning rate the next update will use (no side effects)."""
        return float(rate(self.param, self.iter, self.current_step)[0])
