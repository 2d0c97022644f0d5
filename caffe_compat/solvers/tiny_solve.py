"""pycaffe's ``solve()`` / ``step(n)`` on small nets: runs of iterations in one C call.

Caffe's loop (``Solver::Step``) does, per iteration, nothing Python needs to see except at
some iterations: a test pass, a display line, a snapshot, a multistep lr message, the end of
an HDF5 file, the last iteration of the call. Between those, for a net made only of layer
types registered here and Caffe's SGD rule, :func:`run_iterations` hands whole runs of
iterations to :mod:`caffe_compat.kernels.tiny_solve`: each iteration clears the parameter
diffs, runs the straight-line forward and backward of
:mod:`caffe_compat.net.fast_step` (the same routines in the same order, so the same bits)
and Caffe's SGD update, then the per-iteration losses come back for the smoothed loss. The
iterations Python must see run through the solver's own loop, and so does the last one of
every ``step`` / ``solve`` call: the blobs, the saved state of each layer, the display
outputs and the log are the per-layer loop's own, and the parameters, their diffs and
history, the iteration counter, the smoothed loss and the HDF5 cursor are where it would have
left them (tests/pycaffe/test_tiny_solve.py runs both and compares every blob bit for bit).

The path applies (else the per-layer loop runs, unchanged) when:

- the solver is Caffe's SGD itself (momentum and L2 or no weight decay allowed; no
  subclass update, ``iter_size`` 1, no gradient clipping, every ``lr_mult`` nonzero), its
  one-call C update available (:mod:`caffe_compat.kernels.sgd_update`), on float32 CPU blobs;
- no callbacks, no action function (SIGINT / SIGHUP handling), no progress bar, no
  ``debug_info``, no ``force_backward``, autograd on (as pycaffe's passes need it);
- the training net runs pycaffe's straight-line passes (:mod:`caffe_compat.net.fast_step`) or
  its per-layer loop with explicit calls (``train_plan.ENABLED``), and every layer has an
  emitter here that accepts it: ``HDF5Data`` (in file order, no
  shuffle, one process), ``Input`` (blobs no layer writes in place), ``InnerProduct`` (2-D
  bottoms, axis 1), ``ReLU`` (no negative slope), ``Sigmoid``, ``TanH``, ``Split`` (two
  tops at most), ``Accuracy`` (no loss weight; in training skipped, as nothing reads it
  there), ``SoftmaxWithLoss`` (axis 1, fewer than eight classes, no ignore_label, one top)
  and ``EuclideanLoss``; where a layer has no explicit calls (Sigmoid, TanH, EuclideanLoss),
  the per-layer loop back-propagates it by autograd and its emitter follows that chain;
- each computation the loop makes gives torch's bits on this machine for the net's shapes
  (:func:`caffe_compat.kernels.tiny_solve.check`).

The program of a net (:class:`caffe_compat.solvers.tiny.Program`) is written by one emitter
per layer type, registered by name (the modules of :mod:`caffe_compat.solvers.tiny`); this
module builds programs, decides which iterations they run and keeps the solver's state.
``ENABLED = False`` turns the path off (the tests compare the two).
"""
from __future__ import annotations

import numpy as np
import torch

from ..kernels import sgd_update
from ..kernels import tiny_solve as kernel
from ..net import fast_step, train_plan
from . import runs
from .tiny import EMITTERS, OPS, Program, Refused, address, infer

ENABLED = True

_f32 = np.float32


# ---------------------------------------------------------------------------- building
def _solver_ok(solver):
    """The conditions on the solver that cannot change while it lives (see the module doc)."""
    from .sgd import SGDSolver
    base = type(solver).__mro__[1] if len(type(solver).__mro__) > 1 else None
    p = solver.param
    return (base is SGDSolver and solver.fused_update and p.iter_size == 1
            and p.clip_gradients < 0 and not p.debug_info and solver.device.type == "cpu"
            and not solver.net.graph.force_backward and sgd_update.available()
            and all(m != 0 for m in solver._lr_mults)
            and (p.regularization_type == "L2"
                 or not any(_f32(p.weight_decay) * m for m in solver._decay_mults)))


def _emit_forward(prog, store, test):
    for t in store.data.values():
        if t.dtype != torch.float32 or not t.is_cpu:
            raise Refused("blobs other than float32 CPU")
    for i, (node, key, weights, _) in enumerate(store.nodes):
        emit = EMITTERS.get(node.type)
        if emit is None:
            raise Refused(f"layer type {node.type}")
        if test:
            infer(emit, prog, i, node, store.steps[i][0])
        else:
            emit.forward(prog, i, node, store.steps[i][0])
        for j, w in enumerate(weights):
            if w:
                top = node.tops[j]
                if prog.shape.get(top) != ():
                    raise Refused("a loss top that is not a scalar")
                prog.losses.append((prog.data[top], float(w)))
    prog.ops.append(OPS["LOSS_VALUE" if test else "LOSS"])
    prog.ops.append(len(prog.losses))
    for buf, w in prog.losses:
        prog.ops.extend((buf, prog.const(w)))


def _finish(prog):
    if not all(kernel.check(kind, shape) for kind, shape in prog.checks):
        return None
    return prog.finish()


def build(solver, store):
    """The training :class:`Program` of ``store``'s net under ``solver``, or None where the
    compiled loop cannot run it exactly (see the module doc)."""
    if not _solver_ok(solver) or not kernel.available():
        return None
    plan = fast_step.plan_for(store)
    if plan is None or not train_plan.ENABLED:
        return None
    if plan.records is not None and not plan.ready():
        return None
    if plan.records is None:
        # the per-layer loop: explicit calls where a layer offers them and they apply now,
        # autograd per layer for the others (which need an emitter of that form)
        for i, (node, key, _, _) in enumerate(store.nodes):
            module = store.steps[i][0]
            if store.layer_need[i] and module.explicit_forward is not None and \
                    not module.explicit_ready():
                return None
    prog = Program(solver, store)
    try:
        _emit_forward(prog, store, False)
        for i in range(len(store.nodes) - 1, -1, -1):
            node = store.nodes[i][0]
            if not store.layer_need[i] or (not node.bottoms and not any(store.param_need[i])):
                continue
            module = store.steps[i][0]
            wanted = tuple(need and store.data[b].is_floating_point()
                           for b, need in zip(node.bottoms, store.bottom_need[i]))
            want_params = tuple(need and p.requires_grad
                                for p, need in zip(module.blobs, store.param_need[i]))
            EMITTERS[node.type].backward(prog, i, node, module, wanted, want_params)
        _emit_update(prog, solver)
    except (Refused, KeyError):
        return None
    return _finish(prog)


def build_test(solver, store):
    """The test-pass :class:`Program` of a test net (its forward with autograd off, each
    pass's output values and loss written out), or None (see the module doc)."""
    if solver.device.type != "cpu" or not kernel.available():
        return None
    plan = fast_step.plan_for(store)
    net = store.net
    if plan is None or plan.inference_records is None or \
            (net.inference_chunk and net._per_item):
        return None
    prog = Program(solver, store)
    try:
        with torch.no_grad():
            _emit_forward(prog, store, True)
        holder = prog.out_holder = [None]
        offset = 0
        out = prog.live_ptr(lambda: holder[0], 0)
        for name in net.graph.outputs:
            count = int(np.prod(prog.shape[name], dtype=np.int64))
            prog.outputs.append((name, count))
            offset += count
        prog.out_total = offset
        offset = 0
        for name, count in prog.outputs:
            prog.op("OUTPUT", prog.data[name], out, count, offset, prog.out_total)
            offset += count
    except (Refused, KeyError):
        return None
    return _finish(prog)


def _history(owner, j):
    solver = owner()
    return None if solver is None else solver.history[j]


def _emit_update(prog, solver):
    """Caffe's SGD update of every learnable blob, in the solver's order."""
    decay = _f32(solver.param.weight_decay)
    params = solver._params
    owner = prog.solver_ref
    args = []
    for j, p in enumerate(params):
        w = prog.live_ptr(lambda p=p: p.detach(), p.numel())
        d = prog.live_ptr(lambda p=p: p.grad, p.numel())
        h = prog.live_ptr(lambda j=j: _history(owner, j), p.numel())
        args.extend((w, d, h, p.numel(), prog.const(float(decay * solver._decay_mults[j]))))
    # the diffs cleared first, as _clear_param_diffs does at the top of each iteration
    zero_ops = []
    for j, p in enumerate(params):
        zero_ops.extend((OPS["ZERO"], args[5 * j + 1], p.numel()))
    prog.ops[:0] = zero_ops
    prog.op("UPDATE", len(params), prog.const(float(_f32(solver.param.momentum))),
            1 if sgd_update.mode() else 0, *args)


# ---------------------------------------------------------------------------- running
def _program(solver):
    """The solver's training program, built once per training net and kernel settings (None:
    the per-layer loop)."""
    store = solver._owner.net._store
    p = solver.param
    # the solver fields the program holds as constants or was built under
    fields = (p.momentum, p.weight_decay, p.regularization_type, p.iter_size,
              p.clip_gradients, p.debug_info, tuple(solver._lr_mults),
              tuple(solver._decay_mults))
    key = (store, train_plan.kernel_state(), _shapes(store), fields)
    cached = solver.__dict__.get("_tiny_program")
    if cached is not None and cached[0] == key:
        return cached[1]
    prog = build(solver, store)
    solver._tiny_program = (key, prog)
    return prog


def _shapes(store):
    """The blobs' shapes (a program holds buffers of these sizes)."""
    return tuple(tuple(t.shape) for t in store.data.values())


def _test_program(solver, test_net_id):
    store = solver._owner._test_nets[test_net_id]._store
    key = (store, train_plan.kernel_state(), _shapes(store))
    programs = solver.__dict__.setdefault("_tiny_test_programs", {})
    cached = programs.get(test_net_id)
    if cached is not None and cached[0] == key:
        return cached[1]
    prog = build_test(solver, store)
    programs[test_net_id] = (key, prog)
    return prog


def _resolve(prog):
    return prog.resolve(address)


def run_test_batches(solver, test_net_id, count):
    """Up to ``count`` forward passes of test net ``test_net_id`` in one call, as the test
    pass makes them: ``(outputs, losses)`` (one row of output values, in output order, and
    the float32 loss per pass), or None where the per-layer loop must run the next pass."""
    if not ENABLED or count <= 0 or solver.action_function is not None:
        return None
    prog = _test_program(solver, test_net_id)
    if prog is None:
        return None
    return runs.run_test_program(prog, count, _resolve, kernel.run)


def run_iterations(solver, stop_iter, start_iter, average_loss):
    """Run the iterations from ``solver.iter`` on that Python need not see in the compiled
    loop (see the module doc); returns how many ran (0: the per-layer loop runs the next)."""
    if not ENABLED or solver.callbacks or solver.action_function is not None or \
            solver.log.bar is not None or not torch.is_grad_enabled():
        return 0
    count = runs.plain_run(solver, stop_iter)
    if count <= 0:
        return 0
    prog = _program(solver)
    if prog is None:
        return 0
    live = _resolve(prog)
    if live is None:
        return 0
    done = runs.run_training_program(solver, prog, count,
                                     np.asarray(solver._lr_mults, dtype=np.float32),
                                     kernel.run, start_iter, average_loss)
    if done:
        _move_versions([t for t in live if isinstance(t, torch.Tensor)], done)
    return done


def _move_versions(tensors, by):
    """The version counters moved on as the per-layer loop's in-place calls move them
    (caches of derived weights compare them)."""
    setter = getattr(torch._C._autograd, "_unsafe_set_version_counter", None)
    if setter is None:
        return
    seen = {}
    for t in tensors:          # a parameter and its detached alias share one counter
        seen.setdefault(t.data_ptr(), t)
    tensors = list(seen.values())
    setter(tuple(tensors), tuple(t._version + by for t in tensors))
