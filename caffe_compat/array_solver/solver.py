"""Caffe's Solver (src/caffe/solver.cpp) and SGDSolver (sgd_solver.cpp) on the array engine's
nets, in Caffe's order and float32 arithmetic:

- Init: the train net and the test nets the solver file names (:mod:`caffe_compat.solvers.
  net_specs`, the torch engine's reading), built as :class:`~caffe_compat.array_net.ArrayNet`
  with their data layers; the solver's ``weights`` copied in by layer name; fillers and data
  seeds drawn from Caffe's stream in the same order as the torch engine draws them.
- Step: parameter diffs cleared; a test pass every ``test_interval`` iterations (iteration 0
  only with ``test_initialization``); ``iter_size`` forward/backward passes summing the loss,
  divided by ``iter_size`` in float32; the smoothed loss (Caffe's UpdateSmoothedLoss); the
  display lines; the callbacks; the update; ``++iter``; a snapshot every ``snapshot``
  iterations.
- Test: the train net's parameter arrays shared with the test net from its first pass on
  (ShareTrainedLayersWith), ``test_iter`` forwards, each output value summed in float32, the
  means displayed.
- ApplyUpdate: the rate of ``lr_policy``, logged every ``display`` iterations; per learnable
  blob in Caffe's order: Normalize (``1 / iter_size``), then Regularize (L2), ComputeUpdateValue
  and Net::Update in one C call (``kernels/_sgd_update.c``, fused multiply-adds as OpenBLAS's
  saxpy / saxpby compute them with FMA).
- Solve: optional restore, Step to ``max_iter``, the final snapshot, one more forward shown as
  ``Iteration max_iter, loss = X``, a last test, "Optimization Done.".
"""
from __future__ import annotations

import time

import numpy as np

from ..array_net.net import ArrayNet, build_array_net
from ..array_net.registry import Unsupported
from ..data.caffe_random import set_thread_seed, thread_stream
from ..diagnostics.glog import SolverLog, g
from ..errors import CaffeCompatError
from ..io.text_print import message_text       # C++'s DebugString, as Caffe logs a message
from ..proto import caffe_pb2
from ..solvers import lr_policy
from ..solvers.actions import CallbacksMixin
from ..solvers.display import DisplayMixin, iteration_loss, output_values
from ..solvers.net_specs import NetSpecMixin
from ..solvers.paths import PathCheckMixin
from . import loop
from .state import StateMixin

try:
    from ..kernels import _sgd_update
except ImportError:  # pragma: no cover - the extension is optional
    _sgd_update = None

_f32 = np.float32
SP = caffe_pb2.SolverParameter


def rule_supported(param, solver_type=None):
    """Whether this package follows ``param``'s rules (see the package doc) for a solver of
    ``solver_type`` (default: the type ``param`` names); a solver file the torch engine would
    refuse is left to it, for its messages."""
    p = param
    try:
        lr_policy.check(p)
    except CaffeCompatError:
        return False
    return (_sgd_update is not None and (solver_type or p.type or "SGD") == "SGD"
            and (p.regularization_type == "L2" or _f32(p.weight_decay) == 0)
            and p.clip_gradients < 0 and not p.debug_info and not p.snapshot_diff
            and p.snapshot_format == SP.BINARYPROTO and p.average_loss >= 1
            and p.iter_size >= 1 and p.display >= 0 and p.snapshot >= 0
            and p.test_interval >= 0)


def build_array_solver(param, solver_file=None, log=None, solver_type=None):
    """An :class:`ArraySolver` of ``param`` (a SolverParameter; ``solver_type``: the type to
    run, default the one it names), or None where the array engine does not run it; then
    nothing was drawn from Caffe's stream."""
    if not rule_supported(param, solver_type):
        return None
    seeded = param.random_seed >= 0
    saved = None if seeded else thread_stream().get_state()
    try:
        return ArraySolver(param, solver_file, log)
    except (Unsupported, CaffeCompatError):
        if saved is not None:
            thread_stream().set_state(saved)
        return None


class ArraySolver(NetSpecMixin, PathCheckMixin, DisplayMixin, StateMixin,
                  CallbacksMixin, lr_policy.RateMixin):
    """Caffe's SGD solver over array nets (see the module doc)."""

    type_name = "SGD"
    _share_trained_layers = staticmethod(ArrayNet.share_trained_layers)
    # the torch engine's solver takes these as keyword overrides; pycaffe gives none
    _source_overrides = (None, None, {})
    _prefix_overridden = False

    def __init__(self, param, solver_file=None, log=None):
        out = caffe_pb2.SolverParameter()
        out.CopyFrom(param)
        self.param = p = out
        self.solver_file = solver_file or "<solver>"
        self.log = log if log is not None else SolverLog()
        self.log.info("Initializing solver from parameters: \n" + message_text(p),
                      "solver.cpp:45")
        self._check_paths()
        if p.random_seed >= 0:
            set_thread_seed(int(p.random_seed))
        self.net = self.test_nets = None
        nets = []
        try:
            net_param, state, which = self._train_net_spec()
            self.net = self._build(net_param, state)
            nets.append(self.net)
            self._check_trainable(self.net)
            self.test_nets = []
            for i, (net_param, state, which, label) in enumerate(self._test_net_specs()):
                self.log.info(f"Creating test net (#{i}) specified by {label}",
                              "solver.cpp:190")
                net = self._build(net_param, state)
                nets.append(net)
                self.test_nets.append(net)
                net.share_trained_layers(self.net, check_only=True)
        except BaseException:
            for net in nets:
                net.close()
            raise
        self.log.info("Solver scaffolding done.", "solver.cpp:57")
        self._init_run_state()
        self.learning_rate = None
        self._output_weights = self.net.blob_loss_weights()
        self.learnable = _learnable(self.net)
        self.history = [np.zeros_like(self.net.params[layer][k])
                        for layer, k, _, _ in self.learnable]

    # ------------------------------------------------------------------ nets
    def _build(self, net_param, state):
        net_param.state.CopyFrom(state)
        phase = caffe_pb2.Phase.Name(state.phase)
        net = build_array_net(net_param, phase, state.level, list(state.stage),
                              allow_data=True)
        if net is None:
            raise Unsupported("a net the array engine does not run")
        try:
            cover = net.weights_coverage()      # layers no file covers: said once, after all
            for entry in self.param.weights:
                for path in str(entry).split(","):
                    self.log.info(f"Finetuning from {path}", "solver.cpp:72")
                    net.copy_from(path, coverage=cover)
            cover.report(self.log)
        except BaseException:
            net.close()
            raise
        return net

    @staticmethod
    def _check_trainable(net):
        for i, layer in enumerate(net.layers):
            if net.layer_need[i] and not layer.trains():
                raise Unsupported(f"layer '{net.nodes[i].name}': no backward here")

    def close(self):
        """Release the nets' data layers (their files, databases and threads)."""
        for net in [self.net] + list(self.test_nets or []):
            if net is not None:
                net.close()

    # ------------------------------------------------------------------ the loop
    def _clear_param_diffs(self):
        self.net.clear_param_diffs()

    def _forward_backward(self):
        loss = _f32(self.net.forward())
        self.net.backward()
        return loss

    def _last_outputs(self):
        return {name: self.net.data[name] for name in self.net.outputs}

    def step(self, iters):
        """Run ``iters`` iterations (Caffe's Solver::Step)."""
        p = self.param
        start_iter = self.iter
        stop_iter = self.iter + int(iters)
        average_loss = p.average_loss
        self._losses = []
        self.smoothed_loss = _f32(0)
        timer = time.perf_counter()
        while self.iter < stop_iter:
            # runs of iterations nothing outside the loop sees, in one C call where the
            # compiled loop runs this net (loop/run.py)
            if loop.run_iterations(self, stop_iter, start_iter, average_loss):
                continue
            self._clear_param_diffs()
            if p.test_interval and self.iter % p.test_interval == 0 and (
                    self.iter > 0 or p.test_initialization):
                self.test_all()
            self._call("on_start")
            display = p.display and self.iter % p.display == 0
            loss = self.last_loss = iteration_loss(
                [self._forward_backward() for _ in range(p.iter_size)])
            self._update_smoothed_loss(loss, start_iter, average_loss)
            if display:
                timer = self._display_iteration(timer)
            self._call("on_gradients_ready")
            self.apply_update()
            self.iter += 1
            self._call("on_iteration_end", loss)
            if p.snapshot and self.iter % p.snapshot == 0:
                self.snapshot()

    def solve(self, resume=None):
        """Caffe's Solver::Solve."""
        start_iter = self._solve_begin(resume)
        self.step(self.param.max_iter - self.iter)
        self._solve_end(start_iter)

    def _display_forward(self):
        return _f32(self.net.forward())

    # ------------------------------------------------------------------ test passes
    def test(self, test_net_id=0):
        """Caffe's Solver::Test: ``test_iter`` forward passes, the mean of every output value."""
        p = self.param
        self.log.info(f"Iteration {self.iter}, Testing net (#{test_net_id})", "solver.cpp:347")
        self.share_with_test_net(test_net_id)
        net = self.test_nets[test_net_id]
        n = p.test_iter[test_net_id]
        scores, names, loss = None, [], _f32(0)
        i = 0
        while i < n:
            # the passes between the first and the last in one C call where the compiled
            # loop runs this net (loop/run.py); the same float32 sums, one pass after another
            got = loop.run_test_batches(self, test_net_id, n - 1 - i) if i else None
            if got is not None:
                rows, losses = got
                if p.test_compute_loss:
                    loss = np.add.accumulate(np.concatenate([[loss], losses]),
                                             dtype=np.float32)[-1]
                scores = np.add.accumulate(np.concatenate([scores[None], rows]), axis=0,
                                           dtype=np.float32)[-1]
                i += len(losses)
                continue
            iter_loss = _f32(net.forward())
            if p.test_compute_loss:
                loss = _f32(loss + iter_loss)
            values = [output_values(net.data[name]) for name in net.outputs]
            flat = np.concatenate(values) if values else np.zeros(0, np.float32)
            if i == 0:
                scores = flat.copy()
                names = [name for name, v in zip(net.outputs, values) for _ in range(v.size)]
            else:
                scores += flat
            i += 1
        self._end_test_pass(test_net_id, names, scores, loss, n, net.blob_loss_weights())

    # ------------------------------------------------------------------ the update
    def apply_update(self):
        """Caffe's SGDSolver::ApplyUpdate (see the module doc)."""
        p = self.param
        rate = self.get_learning_rate()
        if p.display and self.iter % p.display == 0:
            self.log.info(f"Iteration {self.iter}, lr = {g(rate)}", "sgd_solver.cpp:112")
        self.learning_rate = rate
        net = self.net
        decay = _f32(p.weight_decay)
        weights, diffs, decays, rates = [], [], [], []
        scale = _f32(1) / _f32(p.iter_size) if p.iter_size != 1 else None
        for layer, k, lr_mult, decay_mult in self.learnable:
            diff = net.param_diff(layer, k)
            if lr_mult == 0:
                diff[...] = 0                   # Caffe computes no gradient for it
            elif scale is not None:
                diff *= scale
            weights.append(net.params[layer][k])
            diffs.append(diff)
            decays.append(float(decay * decay_mult))
            rates.append(float(_f32(rate * lr_mult)))
        if weights:
            _sgd_update.sgd_update(weights, diffs, self.history, decays, rates,
                                   float(_f32(p.momentum)), True)


def _learnable(net):
    """``[(layer, index, lr_mult, decay_mult)]`` of the net's parameter blobs in Caffe's
    learnable order (float32 multipliers)."""
    out = []
    for node in net.nodes:
        specs = node.param.param
        for k in range(len(net.params.get(node.name, ()))):
            spec = specs[k] if k < len(specs) else caffe_pb2.ParamSpec()
            out.append((node.name, k, _f32(spec.lr_mult), _f32(spec.decay_mult)))
    return out
