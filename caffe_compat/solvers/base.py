"""The training loop of Caffe's ``Solver`` (src/caffe/solver.cpp), driven by a solver prototxt.

What is matched, in Caffe's order:

- ``Step``: clear diffs; test when ``iter % test_interval == 0`` (iteration 0 only with
  ``test_initialization``); ``iter_size`` forward/backward passes accumulating the gradient and
  the loss (``loss /= iter_size`` in float32); the running-average display loss over
  ``average_loss`` iterations (Caffe's ``UpdateSmoothedLoss`` arithmetic, float32); the display
  lines; the update; ``++iter``; a snapshot every ``snapshot`` iterations or on request; stop on
  request (SIGINT by default from the command line).
- ``Solve``: optional restore, ``Step(max_iter - iter)``, the final snapshot
  (``snapshot_after_train``, unless just written), one more forward pass with the final weights
  shown as ``Iteration max_iter, loss = X``, a last test, "Optimization Done.".

The other concerns of a solver live beside this loop, one module each, joined into
:class:`Solver` as mixins: the nets and ``--weights`` (:mod:`.nets`, :mod:`.weights`), every
path checked before they are built (:mod:`.paths`), the data position and random streams
(:mod:`.feeding`), test passes (:mod:`.testing`), snapshots and restore (:mod:`.snapshot`),
history blobs and learning rate (:mod:`.update`), display lines (:mod:`.display`), actions
and callbacks (:mod:`.actions`). Subclasses (:mod:`.sgd` and
friends) implement the update (``apply_update``) and the history blobs.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch

from ..parallel import data_parallel as parallel
from ..parallel import pass_choice, placement, threads
from ..net import train_plan
from ..data.caffe_random import seed_torch, set_thread_seed
from ..errors import SolverError
from ..io import prototxt as prototxt_io
from ..io.text_print import message_text       # C++'s DebugString, as Caffe logs a message
from ..kernels.memory import retain_freed_memory
from ..proto import caffe_pb2
from . import lr_policy
from ..diagnostics.glog import SolverLog, g
from .actions import ACTIONS, NONE, SNAPSHOT, STOP, ActionsMixin
from .deferred_losses import DeferredLossMixin
from .display import DisplayMixin, blob_loss_weights, iteration_loss
from .feeding import SIDECAR_SUFFIX, DataFeedMixin
from .host_reads import host_value
from .nets import NetSetupMixin, share_trained_layers
from .paths import PathCheckMixin
from .snapshot import SnapshotMixin
from .testing import TestPassMixin
from .update import UpdateMixin
from .weights import copy_weights, write_net_hdf5

_f32 = np.float32
SP = caffe_pb2.SolverParameter
_blob_loss_weights = blob_loss_weights   # the name earlier versions exported


class Solver(NetSetupMixin, PathCheckMixin, DataFeedMixin, TestPassMixin, SnapshotMixin,
             UpdateMixin, DisplayMixin, DeferredLossMixin, ActionsMixin):
    """A Caffe solver: the nets, the loop, snapshots and restore (see the module doc).

    ``param``: a solver prototxt path or a SolverParameter. Keyword overrides (all optional):
    ``net`` (the train/generic net file instead of the one named in the solver), ``train_source``
    / ``test_source`` (the HDF5 list file for every HDF5Data layer of the train / test nets),
    ``sources`` ({"train:<layer>" / "test:<layer>", layer name or original source string: list
    path}, wins over the two before),
    ``snapshot_prefix``, ``device`` ("cpu", "cuda", "cuda:1"; default: ``solver_mode`` /
    ``device_id``, falling back to CPU without CUDA), ``weights`` (caffemodel paths, added to the
    solver's ``weights``), ``batch_size`` / ``test_batch_size`` (HDF5Data ``batch_size`` of the
    train / test nets), ``max_iter``, ``test_iter`` (for every test net), ``level`` / ``stages``
    (the train NetState, as ``caffe train -level -stage``), ``caffe_position`` (restore without
    the saved data position, as Caffe), ``log`` (a :class:`SolverLog`, a text stream for glog
    lines, True for stderr, None/False for the ``logging`` logger), ``progress`` (a tqdm bar
    during ``solve`` and during each test pass).
    """

    type_name = "?"

    def __init__(self, param, *, net=None, train_source=None, test_source=None, sources=None,
                 snapshot_prefix=None, device=None, weights=None, batch_size=None,
                 test_batch_size=None, max_iter=None, test_iter=None, level=None, stages=None,
                 caffe_position=False, log=None, progress=False, solver_file=None):
        if isinstance(param, (str, os.PathLike)):
            solver_file = os.fspath(param)
            param = prototxt_io.read_solver(solver_file)
        else:
            out = caffe_pb2.SolverParameter()
            out.CopyFrom(param)
            param = out
        self.solver_file = solver_file or "<solver>"
        self._tool_log = log is not True          # True: pycaffe's (no "Use CPU." line there)
        if log is None or log is False:
            log = SolverLog()
        elif log is True:
            log = SolverLog(sys.stderr)
        elif not isinstance(log, SolverLog):      # a text stream: glog lines go there
            log = SolverLog(log)
        self.log = log
        self.progress = progress
        self.caffe_position = bool(caffe_position)
        self._apply_overrides(param, net, snapshot_prefix, weights, max_iter, test_iter, level,
                              stages)
        self.param = param
        self._source_overrides = (train_source, test_source, dict(sources or {}))
        self._prefix_overridden = snapshot_prefix is not None
        self._batch_overrides = (batch_size, test_batch_size)
        self._check_param()
        self.log.info("Initializing solver from parameters: \n" + message_text(param),
                      "solver.cpp:45")
        self.device = self._pick_device(device)
        # on a device the iteration losses are read at the display iterations only
        # (caffe_compat.solvers.deferred_losses)
        self.defer_host_reads = self.device.type != "cpu"
        retain_freed_memory()   # Caffe-like: activations reuse memory (caffe_compat.kernels.memory)
        self._check_paths()
        self.seed = int(param.random_seed) if param.random_seed >= 0 else None
        self.seed = parallel.shared_seed(self.seed, self.device)   # data-parallel: rank 0's
        if self.seed is not None:
            seed_torch(self.seed)
            set_thread_seed(self.seed)      # Caffe::set_random_seed: the nets continue its stream
        self.net = self._init_train_net()
        # data-parallel training: rank 0 alone tests (Caffe's root solver)
        self.test_nets = self._init_test_nets() if parallel.is_root() else []
        # Caffe shares the trained layers with a test net at each test pass (Solver::Test calls
        # ShareTrainedLayersWith), so until the first one a test net holds its own filler
        # values; a layer that cannot be shared is still an error here, before any training
        for tn in self.test_nets:
            share_trained_layers(tn, self.net, check_only=True)
        self._init_random_streams()
        self.log.info("Solver scaffolding done.", "solver.cpp:57")
        self._init_run_state()
        self._test_pass_start = None   # (net label, position) while a test pass runs
        self.action_function = None
        self._output_weights = blob_loss_weights(self.net)
        entries = self.net.learnable
        self._params = [e.param for e in entries]
        self._lr_mults = [_f32(e.lr_mult) for e in entries]
        self._decay_mults = [_f32(e.decay_mult) for e in entries]
        self.pre_solve()

    # ------------------------------------------------------------------ setup
    def _apply_overrides(self, param, net, snapshot_prefix, weights, max_iter, test_iter, level,
                         stages):
        if net is not None:
            net = os.fspath(net)
            if param.HasField("train_net") or param.HasField("train_net_param"):
                param.ClearField("train_net_param")
                param.train_net = net
            else:
                param.ClearField("net_param")
                param.net = net
        if snapshot_prefix is not None:
            param.snapshot_prefix = os.fspath(snapshot_prefix)
        if weights:
            for w in ([weights] if isinstance(weights, (str, os.PathLike)) else weights):
                param.weights.append(os.fspath(w))
        if max_iter is not None:
            param.max_iter = int(max_iter)
        if test_iter is not None:
            n = len(param.test_iter)
            del param.test_iter[:]
            param.test_iter.extend([int(test_iter)] * n)
        if level is not None:
            param.train_state.level = int(level)
        if stages is not None:
            param.train_state.stage.extend(list(stages))

    def _check_param(self):
        p, where = self.param, self.solver_file
        if p.average_loss < 1:
            raise SolverError(f"{where}: average_loss should be at least 1, got {p.average_loss}")
        if p.iter_size < 1:
            raise SolverError(f"{where}: iter_size should be at least 1, got {p.iter_size}")
        if p.display < 0 or p.snapshot < 0 or p.test_interval < 0:
            raise SolverError(f"{where}: display, snapshot and test_interval cannot be negative")
        if p.regularization_type not in ("L1", "L2"):
            raise SolverError(f"{where}: unknown regularization type "
                              f"'{p.regularization_type}' (L1 or L2)")
        lr_policy.check(p, where)
        self.check_param()

    def check_param(self):
        """Solver-type specific checks (Caffe's constructor sanity checks)."""

    def _pick_device(self, device):
        if device is None:
            if self.param.solver_mode == SP.GPU:
                if torch.cuda.is_available():
                    device = f"cuda:{self.param.device_id}"
                else:
                    self.log.info("solver_mode is GPU but no CUDA device is available: using "
                                  "the CPU", "caffe.cpp:197")
                    device = "cpu"
            else:
                device = "cpu"
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            self.log.info(f"device {device} requested but no CUDA device is available: using "
                          "the CPU", "caffe.cpp:197")
            device = torch.device("cpu")
        if self._tool_log:                        # caffe train's line
            self.log.info("Use CPU." if device.type == "cpu" else
                          f"Using GPUs {device.index or 0}", "caffe.cpp:197")
        return device

    def _stepwise(self, test_net_id=None):
        """The train net (or test net ``test_net_id``) as Caffe runs it, layer by layer
        (:class:`~caffe_compat.net.stepwise.Stepwise`): the passes that print debug_info's
        lines run on it (:mod:`caffe_compat.net.debug_info`)."""
        stores = self.__dict__.setdefault("_stepwise_nets", {})
        if test_net_id not in stores:
            from ..net.stepwise import Stepwise
            net = self.net if test_net_id is None else self.test_nets[test_net_id]
            stores[test_net_id] = Stepwise(net)
        return stores[test_net_id]

    def _debug_pass(self, test_net_id=None):
        """The Stepwise of a pass that prints debug_info's lines now, else None."""
        if not self.param.debug_info:
            return None
        store = self._stepwise(test_net_id)
        return store if store.debug_log is not None else None

    def _last_outputs(self):
        store = self._debug_pass()        # the iteration ran on the layer-by-layer net
        if store is None:
            return super()._last_outputs()
        return {name: store.data[name] for name in self.net.graph.outputs}

    def _forward_backward(self):
        net = self.net
        store = self._debug_pass()
        if store is not None:
            return _f32(store.forward_backward())
        plan = train_plan.plan_for(net)
        if plan is not None and plan.ready():    # Caffe's layer-by-layer pass, no autograd
            loss = plan.forward_backward()
        else:
            net.forward()
            loss = net.loss
            if loss is not None and loss.requires_grad:
                loss.backward()
        return _f32(0) if loss is None else self._loss_term(loss)

    def _measured_iteration(self):
        """``(choice, thread count, start, placed)`` of an iteration whose thread count is
        measured (other processes' work shares our cores and the net is not small work:
        :mod:`caffe_compat.parallel.pass_choice`, as inference forwards do; fewer threads
        under niced work, more than cores while cores are held), else ``(None, None, None,
        0)`` at the price of two flag reads. ``placed``: the count whose threads run one per
        CPU (:mod:`caffe_compat.parallel.placement`), under niced work only, else 0."""
        niced = threads.niced_neighbours()
        if not niced and not threads.held_cores():
            return None, None, None, 0
        want = threads.apply_for_net(self.net)
        crowded = threads.crowded_count()
        if want <= 1 and not crowded:
            return None, None, None, 0
        choice = pass_choice.choice_for(self, "iteration")
        count = choice.count(want, niced, crowded)
        return choice, count, choice.clock(), count if niced else 0

    def _display_forward(self):
        """The forward pass of the train net that ``Solve`` runs after the last iteration
        (Caffe's ``net_->Forward(&loss)``, no backward): its loss, float32."""
        with torch.no_grad():
            store = self._debug_pass()    # the flag as the last iteration left it
            if store is not None:
                return _f32(store.forward())
            self.net.forward()
        return _f32(host_value(self.net.loss)) if self.net.loss is not None else _f32(0)

    def step(self, iters):
        """Run ``iters`` iterations (Caffe's Solver::Step)."""
        p = self.param
        start_iter = self.iter
        stop_iter = self.iter + int(iters)
        average_loss = p.average_loss
        defer = self.defer_host_reads
        if self._pending:             # the last step's losses, before its window goes
            self.settle_losses()
        self._losses = []
        self.smoothed_loss = _f32(0)
        timer = time.perf_counter()
        while self.iter < stop_iter:
            self._clear_param_diffs()
            if p.test_interval and self.iter % p.test_interval == 0 and (
                    self.iter > 0 or p.test_initialization):
                self.test_all()
                if self.requested_early_exit:
                    break
            self._call("on_start")
            display = p.display and self.iter % p.display == 0
            if p.debug_info:              # Caffe: net_->set_debug_info(display && debug_info)
                self._stepwise().debug_log = self.log if display else None
            choice, count, started, place = self._measured_iteration()
            with threads.pass_count(count), placement.spread(place):
                try:
                    parts = [self._forward_backward() for _ in range(p.iter_size)]
                except torch.OutOfMemoryError as e:   # the device's figures, a batch that fits
                    self.net.raise_out_of_memory(e, "forward and backward")
            if defer:                 # losses read at the display (deferred_losses)
                self._keep_losses(parts, start_iter, average_loss)
                if display:
                    timer = self._display_iteration(
                        timer, self.settle_losses(self._last_outputs()))
            else:
                loss = self.last_loss = iteration_loss(parts)
                self._update_smoothed_loss(loss, start_iter, average_loss)
                if display:
                    timer = self._display_iteration(timer)
            self._call("on_gradients_ready")
            with threads.pass_count(count), placement.spread(place):
                try:
                    self.apply_update()
                except torch.OutOfMemoryError as e:
                    self.net.raise_out_of_memory(e, "update")
            if choice is not None:
                choice.record(count, started, choice.clock())
            self.iter += 1
            if self.callbacks:
                if defer:             # a callback asking for the loss has it read now
                    loss = self.last_loss if any(hasattr(cb, "on_iteration_end")
                                                 for cb in self.callbacks) else None
                self._call("on_iteration_end", loss)
            if self.log.bar is not None:
                self.log.bar.update(1)
                if not self._pending:   # on a device: at the display iterations
                    self.log.bar.set_postfix(loss=f"{float(self.smoothed_loss):.6g}")
            request = self._requested_action()
            if (p.snapshot and self.iter % p.snapshot == 0) or request == SNAPSHOT:
                self.snapshot()
            if request == STOP:
                self.requested_early_exit = True
                break

    def solve(self, resume=None):
        """Caffe's Solver::Solve: optional restore, train to ``max_iter``, final snapshot,
        last forward pass and test."""
        p = self.param
        start_iter = self._solve_begin(resume)
        bar = None
        if self.progress and p.max_iter > self.iter:
            from tqdm import tqdm
            bar = tqdm(total=p.max_iter, initial=self.iter, unit="it", dynamic_ncols=True,
                       desc=f"train {self.net.name}", file=self.log.stream or sys.stderr)
            self.log.bar = bar
        try:
            self.step(p.max_iter - self.iter)
        finally:
            if bar is not None:
                bar.close()
                self.log.bar = None
        if self._pending:
            self.settle_losses()
        self._solve_end(start_iter)


__all__ = ["Solver", "NONE", "STOP", "SNAPSHOT", "ACTIONS", "SIDECAR_SUFFIX", "copy_weights",
           "share_trained_layers", "write_net_hdf5", "SolverLog", "g"]
