"""Training a Caffe net of ``prototxt/`` for the classification protocol: the solver file with
the run's overrides (iterations, batch, layer sizes), snapshots resumed, the loss kept.

:func:`train` reuses the reproduction's snapshot rules (:mod:`reproduction.training`: only the
newest snapshot kept, a run resumed from it with its data position and random streams) and
writes ``<key>_loss.csv`` and ``<key>_loss.png``.
"""
from __future__ import annotations

import os
import time

from ..errors import ReproductionError

__all__ = ["train"]


def _param(solver_file, net_file, max_iter, snapshot, prefix, seed, overrides):
    from caffe_compat.io.prototxt import read_net, read_solver
    param = read_solver(solver_file)
    net = read_net(net_file)
    for lp in net.layer:
        for (name, field), value in overrides.items():
            if lp.name == name:
                sub = getattr(lp, field.split(".")[0])
                if isinstance(value, (list, tuple)):      # a repeated field: the whole list
                    target = getattr(sub, field.split(".")[1])
                    del target[:]
                    target.extend(value)
                else:
                    setattr(sub, field.split(".")[1], value)
    param.ClearField("net")
    param.net_param.CopyFrom(net)
    param.max_iter = int(max_iter)
    param.snapshot = int(snapshot)
    param.snapshot_prefix = prefix
    param.random_seed = int(seed)
    param.display = max(1, min(param.display or 100, max(1, max_iter // 10)))
    del param.test_iter[:]
    param.test_interval = 0
    param.test_initialization = False
    param.solver_mode = param.CPU
    return param


def train(key, solver_file, net_file, train_list, work_dir, max_iter, batch_size=None,
          seed=1, overrides=None, weights=None, device="cpu", progress=True):
    """Train in ``work_dir`` (``<key>_iter_<max_iter>.caffemodel``), resuming from the newest
    snapshot; a finished run is not trained again. ``overrides``: ``{(layer, 'param.field'):
    value}``, e.g. ``{('lstm', 'recurrent_param.num_output'): 128}`` (a list sets a repeated
    field, e.g. ``transform_param.mean_value``). Returns dict(weights,
    history, seconds, resumed_from)."""
    from caffe_compat import get_solver
    from caffe_compat.diagnostics.glog import SolverLog

    from ..training import (_plot_loss, _Recorder, _read_loss, _write_loss, finetuning,
                            latest_snapshot)
    os.makedirs(work_dir, exist_ok=True)
    prefix = os.path.join(work_dir, key)
    snapshot = max(1, max_iter // 4)
    param = _param(solver_file, net_file, max_iter, snapshot, prefix, seed, overrides or {})
    last = latest_snapshot(prefix)
    history = _read_loss(prefix + "_loss.csv", last[0]) if last else []
    t0 = time.perf_counter()
    if last is not None and last[0] >= max_iter:
        final = last[1][:-len(".solverstate")] + ".caffemodel"
        return dict(weights=final, history=history, seconds=0.0, resumed_from=last[0])
    with open(os.path.join(work_dir, key + "_train.log"), "a", encoding="utf-8") as logf:
        with finetuning():
            solver = get_solver(param, train_source=train_list, device=device,
                                weights=[weights] if weights else None, batch_size=batch_size,
                                log=SolverLog(stream=None, files=[logf]), progress=progress)
        solver.add_callback(_Recorder(prefix, snapshot, history))
        solver.solve(resume=last[1] if last else None)
        if solver.requested_early_exit or solver.iter != max_iter:
            raise ReproductionError(f"{key}: training stopped at iteration {solver.iter} of "
                                    f"{max_iter}")
    _write_loss(prefix + "_loss.csv", history)
    _plot_loss(history, prefix + "_loss.png", key)
    return dict(weights=f"{prefix}_iter_{max_iter}.caffemodel", history=history,
                seconds=time.perf_counter() - t0, resumed_from=last[0] if last else None)
