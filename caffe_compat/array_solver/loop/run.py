"""Runs of the array solver's iterations and test passes in one C call.

Caffe's Solver::Step does, per iteration, nothing Python needs to see except at some
iterations: a test pass, a display line, a snapshot, a multistep lr message, the end of an
HDF5 file, the last iteration of the call (:func:`caffe_compat.solvers.runs.plain_run`).
Between those, for a train net whose every layer has an emitter here that accepts it,
:func:`run_iterations` hands whole runs to the compiled loop: each iteration clears the
parameter diffs, runs the layers' forward and backward on the net's own arrays with the
arithmetic of the array layers (the same C code where the layers would otherwise differ from
it), and Caffe's SGD update of every learnable blob (``_sgd_update``'s fused form, which
ArraySolver.apply_update calls); the losses come back for the smoothed loss. The iterations
Python sees, and the last of every ``step`` / ``solve`` call, run through the solver's own
loop, so the layers' saved state, the display and the log are its own; the parameters, their
diffs and history, the iteration counter, the smoothed loss and the HDF5 read positions are
where it would have left them (tests/caffe_compat/array_solver/test_compiled_loop.py runs
both and compares every array bit for bit). :func:`run_test_batches` does the same for the
forward passes of a test pass between its first and its last.

The loop applies (else the per-layer loop runs, unchanged) with ``iter_size`` 1, every
``lr_mult`` nonzero, no callbacks, InnerProduct products of at most 1e6 multiply-adds,
SoftmaxWithLoss and Accuracy on rows without ``ignore_label``, ReLU without a negative slope,
HDF5Data in file order, Split, and loss tops that are scalars. ``ENABLED = False`` turns it
off (the tests compare the two).
"""
from __future__ import annotations

import numpy as np

from ...kernels import array_loop
from ...kernels.loop_ops import OPS, array_address
from ...solvers import runs
from .program import EMITTERS, Program, Refused, _get

ENABLED = True

_f32 = np.float32


def can_compile(net, param):
    """Whether the loop can run ``net`` (an ArrayNet) under ``param`` (a SolverParameter) as
    far as the layer types and the solver's fields tell, before anything runs."""
    return (array_loop.available() and param.iter_size == 1
            and all(node.type in EMITTERS for node in net.nodes)
            and all(_f32(spec.lr_mult) != 0 for node in net.nodes
                    for spec in list(node.param.param)[:len(net.params.get(node.name, ()))]))


# ---------------------------------------------------------------------------- building
def _emit_forward(prog, net, train):
    losses = []
    for i, (node, layer) in enumerate(zip(net.nodes, net.layers)):
        emit = EMITTERS.get(node.type)
        if emit is None:
            raise Refused(f"layer type {node.type}")
        emit.forward(prog, i, node, layer)
        for top, w in zip(node.tops, net.node_weights[i]):
            if w:
                if net.data[top].shape != ():
                    raise Refused("a loss top that is not a scalar")
                losses.append((prog.data(top), float(w)))
    prog.op("ALOSS", 1 if train else 0, len(losses))
    for buf, w in losses:
        prog.ops.extend((buf, prog.const(float(_f32(w)))))


def build(solver):
    """The training :class:`Program` of the solver's net, or None where the loop does not
    run it (see the module doc)."""
    net, p = solver.net, solver.param
    if not can_compile(net, p) or any(lr == 0 for _, _, lr, _ in solver.learnable):
        return None
    for layer, k, _, _ in solver.learnable:
        net.param_diff(layer, k)          # every diff there, as after a first backward
    prog = Program(solver, net)
    try:
        _emit_forward(prog, net, True)
        for i in range(len(net.nodes) - 1, -1, -1):
            if net.layer_need[i]:
                EMITTERS[net.nodes[i].type].backward(prog, i, net.nodes[i], net.layers[i],
                                                     net.bottom_need[i], net.param_need[i])
        # the diffs cleared first, as clear_param_diffs does at the top of each iteration
        head = []
        for (layer, k), d in net.param_diffs.items():
            head.extend((OPS["ZERO"], prog.param_diff(layer, k), d.size))
        prog.ops[:0] = head
        decay = _f32(p.weight_decay)
        owner = prog.solver_ref
        args = []
        for j, (layer, k, _, decay_mult) in enumerate(solver.learnable):
            w = prog.param(layer, k)
            d = prog.param_diff(layer, k)
            h = prog.live_ptr(lambda j=j: _get(owner, lambda s: s.history[j]),
                              net.params[layer][k].size)
            args.extend((w, d, h, net.params[layer][k].size,
                         prog.const(float(decay * decay_mult))))
        prog.op("UPDATE", len(solver.learnable), prog.const(float(_f32(p.momentum))), 1, *args)
    except (Refused, KeyError):
        return None
    return prog.finish()


def build_test(solver, test_net_id):
    """The test-pass :class:`Program` of test net ``test_net_id`` (its forward, each pass's
    output values and loss written out), or None."""
    net = solver.test_nets[test_net_id]
    if not array_loop.available():
        return None
    prog = Program(solver, net)
    try:
        _emit_forward(prog, net, False)
        holder = prog.out_holder = [None]
        out = prog.live_ptr(lambda: holder[0], 0)
        total = sum(prog.count(name) for name in net.outputs)
        prog.out_total = total
        offset = 0
        for name in net.outputs:
            count = prog.count(name)
            prog.outputs.append((name, count))
            prog.op("OUTPUT", prog.data(name), out, count, offset, total)
            offset += count
    except (Refused, KeyError):
        return None
    return prog.finish()


# ---------------------------------------------------------------------------- running
def _shapes(net):
    return tuple(a.shape for a in net.data.values())


def _cached(programs, slot, key, make):
    """``programs[slot]``'s program where it was built for ``key``, else ``make()``, kept."""
    cached = programs.get(slot)
    if cached is None or cached[0] != key:
        cached = programs[slot] = (key, make())
    return cached[1]


def _program(solver):
    p = solver.param
    fields = (p.momentum, p.weight_decay, p.regularization_type, p.iter_size,
              tuple(solver.learnable))
    return _cached(solver.__dict__, "_loop_program", (_shapes(solver.net), fields),
                   lambda: build(solver))


def _resolve(prog):
    return prog.resolve(array_address)


def run_test_batches(solver, test_net_id, count):
    """Up to ``count`` forward passes of test net ``test_net_id`` in one call: ``(outputs,
    losses)`` (one row of output values per pass, in output order, and the float32 loss per
    pass), or None where the per-layer loop must run the next pass."""
    if not ENABLED or count <= 0:
        return None
    prog = _cached(solver.__dict__.setdefault("_loop_test_programs", {}), test_net_id,
                   _shapes(solver.test_nets[test_net_id]),
                   lambda: build_test(solver, test_net_id))
    if prog is None:
        return None
    return runs.run_test_program(prog, count, _resolve, array_loop.run)


def run_iterations(solver, stop_iter, start_iter, average_loss):
    """Run the iterations from ``solver.iter`` on that Python need not see in one call (see
    the module doc); returns how many ran (0: the per-layer loop runs the next)."""
    if not ENABLED or solver.callbacks:
        return 0
    count = runs.plain_run(solver, stop_iter)
    if count <= 0:
        return 0
    prog = _program(solver)
    if prog is None:
        return 0
    held = _resolve(prog)
    if held is None:
        return 0
    mults = np.asarray([lr for _, _, lr, _ in solver.learnable], dtype=np.float32)
    return runs.run_training_program(solver, prog, count, mults, array_loop.run, start_iter,
                                     average_loss)
