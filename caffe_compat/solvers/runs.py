"""Which iterations of Caffe's Solver::Step a compiled loop may run without Python seeing
them, and the learning rates of those iterations: shared by the torch engine's small-net loop
(:mod:`caffe_compat.solvers.tiny_solve`) and the array engine's
(:mod:`caffe_compat.array_solver.loop`). No torch here."""
from __future__ import annotations

import numpy as np

from . import lr_policy


def plain_run(solver, stop_iter):
    """How many iterations from ``solver.iter`` on Python need not see: before the last of
    the call, a test pass, a display, a snapshot or a multistep message."""
    p = solver.param
    it = solver.iter
    end = stop_iter - 1
    if p.test_interval:
        nxt = -(-it // p.test_interval) * p.test_interval
        if nxt == 0 and not p.test_initialization:
            nxt = p.test_interval
        end = min(end, nxt)
    if p.display:
        end = min(end, -(-it // p.display) * p.display)
    if p.snapshot:
        end = min(end, -(-(it + 1) // p.snapshot) * p.snapshot - 1)
    return max(0, end - it)


def rates(p, first, count, step):
    """``(count, rates, last rate, last step)``: the float32 rates of the updates at
    iterations ``first`` to ``first + count - 1`` as get_learning_rate gives them one after
    the other, ``count`` cut before the first that logs a message (multistep). The rate is
    evaluated once per run where the policy holds it constant (fixed; step within a step;
    multistep between its step values), at every iteration otherwise."""
    rates = np.empty(count, dtype=np.float32)
    policy = p.lr_policy
    n = 0
    while n < count:
        it = first + n
        rate, next_step, message = lr_policy.rate(p, it, step)
        if message:
            break
        step = next_step
        if policy == "fixed":
            end = count
        elif policy == "step":
            end = min(count, (it // p.stepsize + 1) * p.stepsize - first)
        elif policy == "multistep":
            end = count if step >= len(p.stepvalue) else \
                min(count, max(n + 1, p.stepvalue[step] - first))
        else:
            end = n + 1
        rates[n:end] = rate
        n = end
    return n, rates[:n], rates[n - 1] if n else None, step
