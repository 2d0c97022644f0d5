"""A training step: the model's solver (our prototxt and recipe), snapshots (only the newest
kept, resumed with data position and random streams), the loss history and its plot."""
from __future__ import annotations

import contextlib
import glob
import os
import re
import time
import warnings

import numpy as np

from .errors import ReproductionError


def latest_snapshot(prefix):
    """``(iteration, solverstate path)`` of the newest complete snapshot ``<prefix>_iter_N``
    (caffemodel, solverstate and data-position sidecar all present), or None."""
    from caffe_compat.solvers.base import SIDECAR_SUFFIX
    best = None
    for state in glob.glob(glob.escape(prefix) + "_iter_*.solverstate"):
        m = re.search(r"_iter_(\d+)\.solverstate$", state)
        if not m:
            continue
        it = int(m.group(1))
        model = state[:-len(".solverstate")] + ".caffemodel"
        if os.path.isfile(model) and os.path.isfile(state + SIDECAR_SUFFIX):
            if best is None or it > best[0]:
                best = (it, state)
    return best


def _prune_snapshots(prefix, keep_iter):
    for path in glob.glob(glob.escape(prefix) + "_iter_*"):
        m = re.search(r"_iter_(\d+)\.", path)
        if m and int(m.group(1)) != keep_iter:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


class _Recorder:
    """Solver callback: the loss of every iteration; old snapshots pruned; the partial loss
    curve saved beside each snapshot; user callbacks forwarded."""

    def __init__(self, prefix, snapshot, history, extra=()):
        self.prefix = prefix
        self.snapshot = snapshot
        self.history = history
        self.extra = list(extra)

    def on_iteration_end(self, solver, loss):
        self.history.append((int(solver.iter), float(loss)))
        # the snapshot of iteration (iter - 1) exists now: keep only the newest
        if solver.iter > 1 and (solver.iter - 1) % self.snapshot == 0:
            _prune_snapshots(self.prefix, solver.iter - 1)
        if solver.iter % self.snapshot == 0:
            _write_loss(self.prefix + "_loss.csv", self.history)
        for cb in self.extra:
            fn = getattr(cb, "on_iteration_end", None)
            if fn is not None:
                fn(solver, loss)


def _write_loss(path, history):
    from caffe_compat.io.atomic import write_text_atomic
    write_text_atomic(path, "iteration,loss\n" + "".join(f"{i},{v!r}\n" for i, v in history))


def _read_loss(path, upto):
    if not os.path.isfile(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        next(f, None)
        for line in f:
            i, v = line.strip().split(",")
            if int(i) <= upto:
                out.append((int(i), float(v)))
    return out


def _plot_loss(history, path, title):
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from caffe_compat.io.atomic import write_bytes_atomic
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if history:
        it = np.array([h[0] for h in history])
        loss = np.array([h[1] for h in history])
        ax.plot(it, loss, color="0.7", linewidth=0.8, label="loss")
        k = max(1, len(loss) // 20)
        if k > 1:
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            ax.plot(it[k - 1:], smooth, color="tab:blue", label=f"mean of {k}")
        ax.legend()
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (EuclideanLoss)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())


def _solver_param(rec, seed, snapshot_prefix, test):
    from caffe_compat.io.prototxt import read_net, read_solver
    param = read_solver(rec.solver)
    if rec.weight_filler:
        net = read_net(rec.net)
        for lp in net.layer:
            if lp.type == "Convolution":
                f = lp.convolution_param.weight_filler
                f.Clear()
                f.type = rec.weight_filler
        param.ClearField("net")
        param.net_param.CopyFrom(net)
    else:
        param.net = os.path.abspath(rec.net)
    param.max_iter = rec.max_iter
    param.snapshot = rec.snapshot
    param.snapshot_prefix = snapshot_prefix
    param.random_seed = int(seed)
    param.display = max(1, min(param.display or 100, max(1, rec.max_iter // 10)))
    if rec.base_lr is not None:
        param.base_lr = float(rec.base_lr)
    if rec.solver_type == "Adam":
        # Caffe's AdamSolver: momentum is beta1, momentum2 beta2, delta the epsilon (Caffe's
        # defaults for the latter two, written out so the run records them)
        param.type = "Adam"
        param.momentum = 0.9
        param.momentum2 = 0.999
        param.delta = 1e-8
    elif rec.solver_type:
        raise ReproductionError(f"{rec.key}: unknown solver type {rec.solver_type!r}")
    if not test:
        del param.test_iter[:]
        param.test_interval = 0
        param.test_initialization = False
    return param


@contextlib.contextmanager
def finetuning():
    """Solvers made meanwhile start from weights that leave new layers on their fillers by
    design (the joint nets take the SR net's convolutions, the classifiers a ResNet-50's
    layers): the training log's W line names those layers, no WeightsMismatchWarning is
    shown."""
    from caffe_compat.errors import WeightsMismatchWarning
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=WeightsMismatchWarning)
        yield


def train_model(rec, train_list, test_list, work_dir, device="cpu", init_weights=None, seed=1,
                callbacks=(), progress=True):
    """Train ``rec`` (a :class:`reproduction.recipes.Recipe`) in ``work_dir``, resuming from
    the newest snapshot there; returns dict(weights, resumed_from, history, seconds)."""
    from caffe_compat import get_solver
    from caffe_compat.diagnostics.glog import SolverLog
    os.makedirs(work_dir, exist_ok=True)
    prefix = os.path.join(work_dir, rec.key)
    test = rec.test and test_list is not None
    param = _solver_param(rec, seed, prefix, test)
    last = latest_snapshot(prefix)
    history = _read_loss(prefix + "_loss.csv", last[0]) if last else []
    t0 = time.perf_counter()
    with open(os.path.join(work_dir, "train.log"), "a", encoding="utf-8") as logf:
        log = SolverLog(stream=None, files=[logf])
        with finetuning():
            solver = get_solver(param, train_source=train_list,
                                test_source=test_list if test else None, device=device,
                                weights=[init_weights] if init_weights else None,
                                batch_size=rec.batch_size, log=log, progress=progress)
        solver.add_callback(_Recorder(prefix, rec.snapshot, history, callbacks))
        if last is not None and last[0] >= rec.max_iter:
            resumed = last[0]
            final = last[1][:-len(".solverstate")] + ".caffemodel"
        else:
            resumed = last[0] if last else None
            solver.solve(resume=last[1] if last else None)
            final = f"{prefix}_iter_{solver.iter}.caffemodel"
            if solver.requested_early_exit or solver.iter != rec.max_iter:
                raise ReproductionError(f"{rec.key}: training stopped at iteration "
                                        f"{solver.iter} of {rec.max_iter}")
    _prune_snapshots(prefix, rec.max_iter)
    _write_loss(prefix + "_loss.csv", history)
    return dict(weights=final, resumed_from=resumed, history=history,
                seconds=time.perf_counter() - t0)
