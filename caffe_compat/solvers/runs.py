"""Which iterations of Caffe's Solver::Step a compiled loop may run without Python seeing
them, the learning rates of those iterations, and the runs themselves (a training program's
iterations, a test program's passes) with the state they leave: the array engine's compiled
loop (:mod:`caffe_compat.array_solver.loop`) calls them. No torch here."""
from __future__ import annotations

import numpy as np

from ..kernels.array_loop import smooth
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


def hdf5_cursors(prog):
    """``(cursors, limits)`` of the program's HDF5 sources: (read row, batch) pairs and the
    rows of each source's current file."""
    cursors = np.empty(2 * len(prog.sources), dtype=np.int64)
    limits = np.empty(len(prog.sources), dtype=np.int64)
    for s, (src, batch) in enumerate(prog.sources):
        cursors[2 * s], cursors[2 * s + 1], limits[s] = src.current_row, batch, src.rows
    return cursors, limits


def store_cursors(prog, cursors):
    for s, (src, _) in enumerate(prog.sources):
        src.current_row = int(cursors[2 * s])


def run_test_program(prog, count, resolve, run):
    """Up to ``count`` passes of a test program (``run``: the loop's call, ``resolve(prog)``:
    its live addresses filled in, None where one cannot be): ``(outputs, losses)`` (one row
    of output values and the float32 loss per pass), or None where none ran."""
    outputs = np.empty((count, max(1, prog.out_total)), dtype=np.float32)
    prog.out_holder[0] = outputs
    try:
        held = resolve(prog)
    finally:
        prog.out_holder[0] = None
    if held is None:
        return None
    cursors, limits = hdf5_cursors(prog)
    losses = np.empty(count, dtype=np.float32)
    done = run(prog.ops_array, prog.ptrs_array, prog.consts_array, count, losses,
               np.zeros(1, np.float32), cursors, limits)
    if not done:
        return None
    store_cursors(prog, cursors)
    return outputs[:done, :prog.out_total], losses[:done]


def run_training_program(solver, prog, count, mults, run, start_iter, average_loss):
    """Up to ``count`` iterations of a training program whose live addresses are resolved
    (``run``: the loop's call; ``mults``: the float32 lr_mult of each learnable blob); leaves
    the solver's iteration, smoothed and last loss, rate and step as the per-layer loop would,
    and returns how many ran."""
    p = solver.param
    # the rates, as get_learning_rate gives them iteration after iteration
    count, values, last_rate, last_step = rates(p, solver.iter, count, solver.current_step)
    if count == 0:
        return 0
    local = (values[:count, None] * mults[None, :]).astype(np.float32)
    cursors, limits = hdf5_cursors(prog)
    losses = np.empty(count, dtype=np.float32)
    done = run(prog.ops_array, prog.ptrs_array, prog.consts_array, count, losses, local,
               cursors, limits)
    if not done:
        return 0
    store_cursors(prog, cursors)
    if done < count:
        last_rate, last_step = rates(p, solver.iter, done, solver.current_step)[2:]
    losses = losses[:done]
    solver.smoothed_loss = smooth(losses, solver._losses, solver.smoothed_loss,
                                  solver.iter - start_iter, average_loss)
    solver.last_loss = losses[-1]
    solver.iter += done
    solver.learning_rate = last_rate
    solver.current_step = last_step
    return done
