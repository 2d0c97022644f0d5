"""The training loop of Caffe's ``Solver`` (src/caffe/solver.cpp), driven by a solver prototxt.

What is matched, in Caffe's order:

- Nets: one train net (``net`` / ``net_param`` / ``train_net`` / ``train_net_param``, NetState =
  TRAIN merged with the net's own ``state`` and ``train_state``) and the test nets
  (``test_net_param``, ``test_net``, then one instance of the generic net per remaining
  ``test_iter``; NetState TEST merged with ``test_state``). Test nets use the train net's
  parameters (Caffe's ShareTrainedLayersWith: layers of the same name hold the same Parameter
  objects). ``weights`` (solver field or ``-weights``) are copied into every net by layer name.
- ``Step``: clear diffs; test when ``iter % test_interval == 0`` (iteration 0 only with
  ``test_initialization``); ``iter_size`` forward/backward passes accumulating the gradient and
  the loss (``loss /= iter_size`` in float32); the running-average display loss over
  ``average_loss`` iterations (Caffe's ``UpdateSmoothedLoss`` arithmetic, float32); the display
  lines; the update; ``++iter``; a snapshot every ``snapshot`` iterations or on request; stop on
  request (SIGINT by default from the command line).
- ``Solve``: optional restore, ``Step(max_iter - iter)``, the final snapshot
  (``snapshot_after_train``, unless just written), one more forward pass with the final weights
  shown as ``Iteration max_iter, loss = X``, a last test, "Optimization Done.".
- Snapshots ``<prefix>_iter_<N>.caffemodel`` + ``.solverstate`` (or ``.caffemodel.h5`` +
  ``.solverstate.h5`` with ``snapshot_format: HDF5``), written atomically. Beside every solver
  state a small sidecar ``<state>.datapos.json`` records what Caffe does not save: the read
  position of every HDF5Data layer (train and test nets) and the random generators, so a run
  stopped at any iteration and resumed continues bit-identically (on CPU) to an uninterrupted
  one. ``caffe_position=True`` restores Caffe's behaviour instead (reading restarts at row 0).

Subclasses (:mod:`caffe_compat.solvers.sgd` and friends) implement the update
(``apply_update``) and the history blobs.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

from ..data.hdf5 import HDF5Source
from ..errors import (CaffeCompatError, DataError, NetError, PrototxtError, SolverError,
                      WeightsError)
from ..graph import filter_net
from ..io import caffemodel as caffemodel_io
from ..io import prototxt as prototxt_io
from ..io import solverstate as solverstate_io
from ..io.atomic import atomic_path, write_bytes_atomic
from ..memory import retain_freed_memory
from ..net import Net
from ..proto import caffe_pb2
from . import lr_policy
from ._log import SolverLog, g

_f32 = np.float32
SP = caffe_pb2.SolverParameter

# Caffe's SolverAction.
NONE, STOP, SNAPSHOT = "none", "stop", "snapshot"
ACTIONS = (NONE, STOP, SNAPSHOT)

SIDECAR_SUFFIX = ".datapos.json"
_SIDECAR_FORMAT = "caffe_compat.datapos/1"


def _b64(t):
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s):
    return torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())


class Solver:
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
    during ``solve``).
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
        self._batch_overrides = (batch_size, test_batch_size)
        self._check_param()
        self.log.info("Initializing solver from parameters: \n"
                      + prototxt_io.to_text(param), "solver.cpp:45")
        self.device = self._pick_device(device)
        retain_freed_memory()   # Caffe-like: activations reuse memory (caffe_compat.memory)
        if param.debug_info:
            self.log.warning("debug_info (per-blob statistics) is not supported: ignored",
                             "solver.cpp:45")
        self._check_snapshot_prefix()
        self.seed = int(param.random_seed) if param.random_seed >= 0 else None
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.net = self._init_train_net()
        self.test_nets = self._init_test_nets()
        for tn in self.test_nets:
            share_trained_layers(tn, self.net)
        self._init_random_streams()
        self.log.info("Solver scaffolding done.", "solver.cpp:57")
        self.iter = 0
        self.current_step = 0
        self.requested_early_exit = False
        self._test_pass_start = None   # (net label, position) while a test pass runs
        self.smoothed_loss = _f32(0)
        self._losses = []
        self.last_loss = None
        self.final_loss = None
        self.test_scores = [[] for _ in self.test_nets]
        self.callbacks = []
        self.action_function = None
        self._iterations_last = 0
        self._output_weights = _blob_loss_weights(self.net)
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
        if device.type == "cpu":
            self.log.info("Use CPU.", "caffe.cpp:197")
        else:
            self.log.info(f"Using GPUs {device.index or 0}", "caffe.cpp:197")
        return device

    def _check_snapshot_prefix(self):
        """Caffe's CheckSnapshotWritePermissions, also when only the final snapshot
        (snapshot_after_train) will be written: better now than after the training."""
        p = self.param
        if not p.snapshot and not p.snapshot_after_train:
            return
        if p.snapshot and not p.HasField("snapshot_prefix"):
            raise SolverError(f"{self.solver_file}: snapshot is set but snapshot_prefix is not")
        folder = os.path.dirname(p.snapshot_prefix) or "."
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise SolverError(f"{self.solver_file}: cannot write to snapshot prefix "
                              f"'{p.snapshot_prefix}': folder '{folder}' does not exist or is "
                              "not writable (override it with --snapshot-prefix / "
                              "snapshot_prefix=)")

    def _read_net_file(self, path, field):
        try:
            return prototxt_io.read_net(path)
        except PrototxtError as e:
            raise SolverError(f"{self.solver_file}: {field} '{path}' cannot be read: {e}") from None

    def _build_net(self, net_param, state, phase, seed, which):
        """A Net for ``net_param`` under NetState ``state`` with the source/batch overrides."""
        net_param.state.CopyFrom(state)
        filtered = filter_net(net_param, phase, state.level, list(state.stage))
        train_source, test_source, sources = self._source_overrides
        default = train_source if phase == "TRAIN" else test_source
        batch = self._batch_overrides[0 if phase == "TRAIN" else 1]
        data_sources = {}
        for lp in filtered.layer:
            if lp.type != "HDF5Data":
                continue
            src = _pick_source(sources, phase, lp, default)
            if src is not None:
                data_sources[lp.name] = os.fspath(src)
            if batch is not None:
                lp.hdf5_data_param.batch_size = int(batch)
        try:
            net = Net(filtered, phase=phase.lower(), level=state.level,
                      stages=list(state.stage), seed=seed, data_sources=data_sources)
        except NetError as e:
            raise NetError(f"{which}: {e}{_describe_data(filtered, data_sources)}") from None
        except CaffeCompatError as e:
            raise type(e)(f"{which}: {e}") from None
        net.to(self.device)
        for w in self.param.weights:
            self.load_weights(net, w)
        return net

    def _init_train_net(self):
        p = self.param
        fields = [f for f in ("net", "net_param", "train_net", "train_net_param")
                  if p.HasField(f)]
        if len(fields) != 1:
            raise SolverError(f"{self.solver_file}: the solver must name exactly one train net "
                              f"with one of net, net_param, train_net, train_net_param (it "
                              f"has {', '.join(fields) or 'none'})")
        field = fields[0]
        if field == "train_net_param":
            self.log.info("Creating training net specified in train_net_param.", "solver.cpp:86")
            net_param = _copy(p.train_net_param)
            which = f"{self.solver_file}: train_net_param"
        elif field == "train_net":
            self.log.info(f"Creating training net from train_net file: {p.train_net}",
                          "solver.cpp:90")
            net_param = self._read_net_file(p.train_net, "train_net")
            which = p.train_net
        elif field == "net_param":
            self.log.info("Creating training net specified in net_param.", "solver.cpp:95")
            net_param = _copy(p.net_param)
            which = f"{self.solver_file}: net_param"
        else:
            self.log.info(f"Creating training net from net file: {p.net}", "solver.cpp:102")
            net_param = self._read_net_file(p.net, "net")
            which = p.net
        if field.endswith("_param"):
            from ..io.upgrade import upgrade_net
            net_param = upgrade_net(net_param)
        state = caffe_pb2.NetState()
        state.phase = caffe_pb2.TRAIN
        state.MergeFrom(net_param.state)
        state.MergeFrom(p.train_state)
        return self._build_net(net_param, state, caffe_pb2.Phase.Name(state.phase), self.seed,
                               which)

    def _init_test_nets(self):
        p = self.param
        generic = p.HasField("net") + p.HasField("net_param")
        if generic > 1:
            raise SolverError(f"{self.solver_file}: both net and net_param are set")
        n_params, n_files = len(p.test_net_param), len(p.test_net)
        n_specific = n_params + n_files
        if generic and len(p.test_iter) < n_specific:
            raise SolverError(f"{self.solver_file}: test_iter must be given for each test net "
                              f"({n_specific} test_net/test_net_param, {len(p.test_iter)} "
                              "test_iter)")
        if not generic and len(p.test_iter) != n_specific:
            raise SolverError(f"{self.solver_file}: test_iter must be given once for each test "
                              f"net ({n_specific} test nets, {len(p.test_iter)} test_iter)")
        n_total = len(p.test_iter)
        if len(p.test_state) and len(p.test_state) != n_total:
            raise SolverError(f"{self.solver_file}: test_state must be unspecified or given "
                              f"once per test net ({n_total}), got {len(p.test_state)}")
        if n_total and p.test_interval <= 0:
            raise SolverError(f"{self.solver_file}: test_interval must be positive when there "
                              "are test nets")
        specs = []
        for i in range(n_params):
            from ..io.upgrade import upgrade_net
            specs.append(("test_net_param", upgrade_net(_copy(p.test_net_param[i])),
                          f"{self.solver_file}: test_net_param #{i}"))
        for path in p.test_net:
            specs.append((f"test_net file: {path}", self._read_net_file(path, "test_net"), path))
        for _ in range(n_total - n_specific):
            if p.HasField("net_param"):
                from ..io.upgrade import upgrade_net
                specs.append(("net_param", upgrade_net(_copy(p.net_param)),
                              f"{self.solver_file}: net_param"))
            else:
                specs.append((f"net file: {p.net}", self._read_net_file(p.net, "net"), p.net))
        nets = []
        for i, (label, net_param, which) in enumerate(specs):
            state = caffe_pb2.NetState()
            state.phase = caffe_pb2.TEST
            state.MergeFrom(net_param.state)
            if len(p.test_state):
                state.MergeFrom(p.test_state[i])
            self.log.info(f"Creating test net (#{i}) specified by {label}", "solver.cpp:190")
            seed = None if self.seed is None else self.seed + 1 + i
            nets.append(self._build_net(net_param, state, caffe_pb2.Phase.Name(state.phase),
                                        seed, which))
        return nets

    def _data_layers(self):
        """``[(net label, layer name, HDF5Source)]`` over the train and test nets."""
        out = []
        for label, net in self._labelled_nets():
            for node, key, _, _ in net._nodes:
                src = getattr(net.layers[key], "source", None)
                if isinstance(src, HDF5Source):
                    out.append((label, node.name, src))
        return out

    def _labelled_nets(self):
        return [("train", self.net)] + [(f"test#{i}", n) for i, n in enumerate(self.test_nets)]

    def _generators(self):
        """``[(label, torch.Generator)]`` of the random layers (Dropout) of every net."""
        out = []
        for label, net in self._labelled_nets():
            for node, key, _, _ in net._nodes:
                module = net.layers[key]
                if hasattr(module, "generator") and isinstance(
                        getattr(module, "generator"), (torch.Generator, type(None))):
                    out.append((f"{label}/{node.name}", module))
        return out

    def _init_random_streams(self):
        """Seed the HDF5 shuffles and the random layers from ``random_seed`` (one stream each)."""
        base = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy
                                                            % (2 ** 63))
        for k, (label, name, src) in enumerate(self._data_layers()):
            src.reseed([base, 1, k])
        for k, (label, module) in enumerate(self._generators()):
            gen = torch.Generator(device=self.device)
            gen.manual_seed(int(np.random.SeedSequence([base, 2, k]).generate_state(1)[0]))
            module.generator = gen

    # ------------------------------------------------------------------ weights
    def load_weights(self, net, model_list):
        """Caffe's LoadNetWeights: each comma-separated caffemodel copied in by layer name."""
        for path in str(model_list).split(","):
            self.log.info(f"Finetuning from {path}", "solver.cpp:72")
            copy_weights(net, path, self.log)

    # ------------------------------------------------------------------ history
    def pre_solve(self):
        """Create the history blobs (zeros, one set per parameter and ``history_sets``)."""
        self.history = [torch.zeros_like(p, memory_format=torch.contiguous_format).detach()
                        for _ in range(self.history_sets) for p in self._params]

    history_sets = 1

    def apply_update(self):
        raise NotImplementedError

    # ------------------------------------------------------------------ learning rate
    def get_learning_rate(self):
        """The rate of the update at ``iter`` (advances ``current_step`` as Caffe does)."""
        rate, self.current_step, message = lr_policy.rate(self.param, self.iter,
                                                           self.current_step)
        if message:
            self.log.info(message, "sgd_solver.cpp:50")
        return rate

    @property
    def lr(self):
        """The learning rate the next update will use (no side effects)."""
        return float(lr_policy.rate(self.param, self.iter, self.current_step)[0])

    # ------------------------------------------------------------------ actions
    def set_action_function(self, fn):
        """``fn() -> "none" | "stop" | "snapshot"`` polled once per iteration and test batch."""
        self.action_function = fn

    def _requested_action(self):
        if self.action_function is None:
            return NONE
        action = self.action_function()
        return action if action in ACTIONS else NONE

    def add_callback(self, callback):
        """An object with optional ``on_start(solver)``, ``on_gradients_ready(solver)`` and
        ``on_iteration_end(solver, loss)`` methods, called as Caffe's solver callbacks."""
        self.callbacks.append(callback)

    def _call(self, name, *args):
        for cb in self.callbacks:
            fn = getattr(cb, name, None)
            if fn is not None:
                fn(self, *args)

    # ------------------------------------------------------------------ the loop
    def _clear_param_diffs(self):
        for p in self._params:
            p.grad = None

    def _forward_backward(self):
        net = self.net
        net.forward()
        loss = net.loss
        if loss is None:
            return _f32(0)
        if loss.requires_grad:
            loss.backward()
        return _f32(loss.item())

    def _update_smoothed_loss(self, loss, start_iter, average_loss):
        if len(self._losses) < average_loss:
            self._losses.append(loss)
            size = len(self._losses)
            self.smoothed_loss = _f32((self.smoothed_loss * _f32(size - 1) + loss) / _f32(size))
        else:
            idx = (self.iter - start_iter) % average_loss
            self.smoothed_loss = _f32(self.smoothed_loss
                                      + (loss - self._losses[idx]) / _f32(average_loss))
            self._losses[idx] = loss

    def _display_outputs(self, outputs, prefix):
        score_index = 0
        for name, value in outputs.items():
            weight = _f32(self._output_weights.get(name, 0.0))
            values = np.asarray(value.detach().float().cpu().numpy(), dtype=np.float32).ravel()
            for v in values:
                extra = f" (* {g(weight)} = {g(weight * v)} loss)" if weight else ""
                self.log.info(f"    {prefix} net output #{score_index}: {name} = {g(v)}{extra}",
                              "solver.cpp:258")
                score_index += 1

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
            self._clear_param_diffs()
            if p.test_interval and self.iter % p.test_interval == 0 and (
                    self.iter > 0 or p.test_initialization):
                self.test_all()
                if self.requested_early_exit:
                    break
            self._call("on_start")
            display = p.display and self.iter % p.display == 0
            loss = _f32(0)
            for _ in range(p.iter_size):
                loss = _f32(loss + self._forward_backward())
            loss = _f32(loss / _f32(p.iter_size))
            self.last_loss = loss
            self._update_smoothed_loss(loss, start_iter, average_loss)
            if display:
                lapse = time.perf_counter() - timer
                per_s = (self.iter - self._iterations_last) / (lapse if lapse else 1.0)
                self.log.info(f"Iteration {self.iter} ({g(per_s)} iter/s, {g(lapse)}s/"
                              f"{p.display} iters), loss = {g(self.smoothed_loss)}",
                              "solver.cpp:239")
                timer = time.perf_counter()
                self._iterations_last = self.iter
                self._display_outputs(self._last_outputs(), "Train")
            self._call("on_gradients_ready")
            self.apply_update()
            self.iter += 1
            self._call("on_iteration_end", loss)
            if self.log.bar is not None:
                self.log.bar.update(1)
                self.log.bar.set_postfix(loss=f"{float(self.smoothed_loss):.6g}")
            request = self._requested_action()
            if (p.snapshot and self.iter % p.snapshot == 0) or request == SNAPSHOT:
                self.snapshot()
            if request == STOP:
                self.requested_early_exit = True
                break

    def _last_outputs(self):
        net = self.net
        return {name: net.blobs[name].data for name in net.graph.outputs}

    def solve(self, resume=None):
        """Caffe's Solver::Solve: optional restore, train to ``max_iter``, final snapshot,
        last forward pass and test."""
        p = self.param
        self.log.info(f"Solving {self.net.name}", "solver.cpp:289")
        self.log.info(f"Learning Rate Policy: {p.lr_policy}", "solver.cpp:290")
        self.requested_early_exit = False
        if resume:
            self.log.info(f"Restoring previous solver status from {resume}", "solver.cpp:305")
            self.restore(resume)
        start_iter = self.iter
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
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
            self.snapshot()
        if self.requested_early_exit:
            self.log.info("Optimization stopped early.", "solver.cpp:319")
            return
        if p.display and self.iter % p.display == 0:
            with torch.no_grad():
                self.net.forward()
            loss = _f32(self.net.loss.item()) if self.net.loss is not None else _f32(0)
            self.final_loss = loss
            self._update_smoothed_loss(loss, start_iter, p.average_loss)
            self.log.info(f"Iteration {self.iter}, loss = {g(self.smoothed_loss)}",
                          "solver.cpp:327")
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        self.log.info("Optimization Done.", "solver.cpp:332")

    # ------------------------------------------------------------------ testing
    def test_all(self):
        for i in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(i)

    def test(self, test_net_id=0):
        """Caffe's Solver::Test: ``test_iter`` forward passes, mean of every output value."""
        self.log.info(f"Iteration {self.iter}, Testing net (#{test_net_id})", "solver.cpp:347")
        # A snapshot taken during the pass (a SIGHUP) or after it was interrupted (SIGINT)
        # records the test net's position at the start of the pass: resuming redoes the pass
        # from there, as the uninterrupted run did it.
        label = f"test#{test_net_id}"
        start = (label, self._position_of(label))
        self._test_pass_start = start
        try:
            self._test_passes(test_net_id)
        finally:
            self._test_pass_start = None
        if self.requested_early_exit:
            self._load_position_of(*start)

    def _test_passes(self, test_net_id):
        p = self.param
        net = self.test_nets[test_net_id]
        n = p.test_iter[test_net_id]
        scores, names = None, []
        loss = _f32(0)
        with torch.no_grad():
            for i in range(n):
                request = self._requested_action()
                while request != NONE:
                    if request == SNAPSHOT:
                        self.snapshot()
                    elif request == STOP:
                        self.requested_early_exit = True
                    request = self._requested_action()
                if self.requested_early_exit:
                    break
                outputs = net.forward()
                if p.test_compute_loss:
                    iter_loss = _f32(net.loss.item()) if net.loss is not None else _f32(0)
                    loss = _f32(loss + iter_loss)
                vec = [np.asarray(v.detach().float().cpu().numpy(), np.float32).ravel()
                       for v in outputs.values()]
                flat = np.concatenate(vec) if vec else np.zeros(0, np.float32)
                if i == 0:
                    scores = flat.copy()
                    names = [name for name, v in zip(outputs, vec) for _ in range(v.size)]
                else:
                    scores += flat
        if self.requested_early_exit:
            self.log.info("Test interrupted.", "solver.cpp:380")
            return
        if p.test_compute_loss:
            loss = _f32(loss / _f32(n))
            self.log.info(f"Test loss: {g(loss)}", "solver.cpp:386")
        weights = _blob_loss_weights(net)
        means = []
        for i, name in enumerate(names):
            mean = _f32(scores[i] / _f32(n))
            means.append(mean)
            w = _f32(weights.get(name, 0.0))
            extra = f" (* {g(w)} = {g(w * mean)} loss)" if w else ""
            self.log.info(f"    Test net output #{i}: {name} = {g(mean)}{extra}",
                          "solver.cpp:414")
        self.test_scores[test_net_id] = list(zip(names, means))

    # ------------------------------------------------------------------ snapshots
    def snapshot_filename(self, extension):
        return f"{self.param.snapshot_prefix}_iter_{self.iter}{extension}"

    def snapshot(self):
        """Write the weights and the solver state (Caffe's Solver::Snapshot); returns both
        paths."""
        fmt = self.param.snapshot_format
        if fmt == SP.HDF5:
            model = self.snapshot_filename(".caffemodel.h5")
            self.log.info(f"Snapshotting to HDF5 file {model}", "solver.cpp:472")
            write_net_hdf5(self.net, model, self.param.snapshot_diff)
        else:
            model = self.snapshot_filename(".caffemodel")
            self.log.info(f"Snapshotting to binary proto file {model}", "solver.cpp:464")
            proto = self.net.to_proto(with_blobs=True)
            if self.param.snapshot_diff:
                _add_diffs(proto, self.net)
            caffemodel_io.write_caffemodel(proto, model)
        state_path = self.snapshot_solver_state(model)
        return model, state_path

    def snapshot_solver_state(self, model_filename):
        if self.param.snapshot_format == SP.HDF5:
            path = self.snapshot_filename(".solverstate.h5")
            self.log.info(f"Snapshotting solver state to HDF5 file {path}", "sgd_solver.cpp:301")
            with atomic_path(path, suffix=".h5") as tmp:
                _write_state_hdf5(tmp, self.iter, model_filename, self.current_step,
                                  self.history)
            with open(path, "rb") as f:
                data = f.read()
            self._write_sidecar(path, data)
            return path
        state = caffe_pb2.SolverState()
        state.iter = self.iter
        state.learned_net = model_filename
        state.current_step = self.current_step
        for h in self.history:
            state.history.add().CopyFrom(caffemodel_io.array_to_blob(h.detach().cpu().numpy()))
        path = self.snapshot_filename(".solverstate")
        self.log.info(f"Snapshotting solver state to binary proto file {path}",
                      "sgd_solver.cpp:284")
        data = solverstate_io.solverstate_bytes(state)
        self._write_sidecar(path, data)
        write_bytes_atomic(path, data)
        return path

    # ------------------------------------------------------------------ data position
    def data_position(self):
        """The read position of every HDF5Data layer and the random streams (JSON-able).
        During a test pass, that test net's position at the start of the pass."""
        data = {}
        for label, name, src in self._data_layers():
            data.setdefault(label, {})[name] = src.state_dict()
        rng = {"torch": _b64(torch.get_rng_state())}
        gens = {}
        for label, module in self._generators():
            if module.generator is not None:
                gens[label] = _b64(module.generator.get_state())
        rng["generators"] = gens
        if self._test_pass_start is not None:
            label, (saved_data, saved_gens) = self._test_pass_start
            if saved_data:
                data[label] = saved_data
            gens.update(saved_gens)
        return {"data": data, "rng": rng}

    def _position_of(self, net_label):
        """(data states, generator states) of the net labelled ``net_label``."""
        data = {name: src.state_dict() for label, name, src in self._data_layers()
                if label == net_label}
        gens = {label: _b64(module.generator.get_state())
                for label, module in self._generators()
                if label.startswith(net_label + "/") and module.generator is not None}
        return data, gens

    def _load_position_of(self, net_label, position):
        data, gens = position
        for label, name, src in self._data_layers():
            if label == net_label and name in data:
                src.load_state_dict(data[name])
        for label, module in self._generators():
            if label in gens and module.generator is not None:
                module.generator.set_state(_unb64(gens[label]))

    def load_data_position(self, position, where="data position"):
        layers = {(label, name): src for label, name, src in self._data_layers()}
        saved = position.get("data", {})
        for (label, name), src in layers.items():
            state = saved.get(label, {}).get(name)
            if state is None:
                raise SolverError(f"{where}: no read position saved for HDF5Data layer "
                                  f"'{name}' of the {label} net")
            src.load_state_dict(state)
        rng = position.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(_unb64(rng["torch"]))
        for label, module in self._generators():
            state = rng.get("generators", {}).get(label)
            if state is not None and module.generator is not None:
                module.generator.set_state(_unb64(state))

    def reset_data_position(self):
        """Every HDF5Data layer back to its first row (Caffe's position after a restore)."""
        for _, _, src in self._data_layers():
            src.reset()

    def _write_sidecar(self, state_path, state_bytes):
        doc = {"format": _SIDECAR_FORMAT, "iter": self.iter,
               "solverstate_sha256": hashlib.sha256(state_bytes).hexdigest()}
        doc.update(self.data_position())
        write_bytes_atomic(state_path + SIDECAR_SUFFIX,
                           json.dumps(doc, separators=(",", ":")).encode("utf-8"))

    # ------------------------------------------------------------------ restore
    def restore(self, path, caffe_position=None):
        """Restore a .solverstate (Caffe's or ours; ``.h5`` for HDF5 states): iteration, weights
        (``learned_net``), ``current_step`` and history; then the saved data position, unless
        ``caffe_position`` (default: the solver's setting) asks for Caffe's behaviour."""
        path = os.fspath(path)
        caffe_position = self.caffe_position if caffe_position is None else caffe_position
        if path.endswith(".h5"):
            it, learned, step, history = _read_state_hdf5(path)
            with open(path, "rb") as f:
                data = f.read()
        else:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                raise SolverError(f"{path}: no such solverstate file") from None
            except OSError as e:
                raise SolverError(f"{path}: cannot read: {e.strerror or e}") from None
            state = solverstate_io.parse_solverstate(data, path)
            it, step = state.iter, state.current_step
            learned = state.learned_net if state.HasField("learned_net") else None
            history = solverstate_io.history_arrays(state, path)
        if learned:
            model = _resolve_learned_net(learned, path)
            copied = copy_weights(self.net, model, self.log, hdf5=model.endswith(".h5"))
            if not copied and self.net.learnable:
                raise SolverError(f"{path}: its weights file '{model}' shares no layer with net "
                                  f"'{self.net.name}'; it is a snapshot of a different net")
        if len(history) != len(self.history):
            raise SolverError(f"{path}: {len(history)} history blobs, but a {self.type_name} "
                              f"solver on net '{self.net.name}' ({len(self._params)} learnable "
                              f"parameters) needs {len(self.history)}; it is a snapshot of a "
                              "different net or solver type")
        n = len(self._params)
        for i, (h, arr) in enumerate(zip(self.history, history)):
            if arr.size != h.numel():
                entry = self.net.learnable[i % n]
                raise SolverError(f"{path}: history blob {i} has shape {tuple(arr.shape)} but "
                                  f"parameter {entry.layer}/{entry.index} has shape "
                                  f"{tuple(h.shape)}; it is a snapshot of a different net")
        self.iter = int(it)
        self.current_step = int(step)
        self.log.info("SGDSolver: restoring history", "sgd_solver.cpp:336")
        with torch.no_grad():
            for h, arr in zip(self.history, history):
                h.copy_(torch.from_numpy(np.ascontiguousarray(arr, np.float32)).reshape(h.shape))
        self._iterations_last = self.iter
        if caffe_position:
            self.reset_data_position()
            return
        sidecar = path + SIDECAR_SUFFIX
        if not os.path.exists(sidecar):
            self.log.info(f"No data position saved beside {path}: HDF5Data layers start at "
                          "their first row (Caffe's behaviour)", "solver.cpp:0")
            self.reset_data_position()
            return
        try:
            with open(sidecar, "r", encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError, RecursionError) as e:  # RecursionError: absurd nesting
            raise SolverError(f"{sidecar}: cannot read the saved data position: {e}") from None
        if not isinstance(doc, dict):
            raise SolverError(f"{sidecar}: malformed data position: a JSON "
                              f"{type(doc).__name__}, not an object")
        if doc.get("format") != _SIDECAR_FORMAT or \
                doc.get("solverstate_sha256") != hashlib.sha256(data).hexdigest():
            self.log.warning(f"{sidecar} does not belong to {path} (stale or foreign): "
                             "HDF5Data layers start at their first row", "solver.cpp:0")
            self.reset_data_position()
            return
        try:
            self.load_data_position(doc, where=sidecar)
        except DataError as e:  # a position the data files refuse: name the sidecar too
            raise SolverError(f"{sidecar}: saved data position does not fit: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError,
                OverflowError) as e:
            # wrong JSON types (a list where an object belongs), torch refusing an RNG state
            raise SolverError(f"{sidecar}: malformed data position: {type(e).__name__}: {e}") \
                from None
        self.log.info(f"Restored the data read position from {sidecar}", "solver.cpp:0")


# ---------------------------------------------------------------------------- helpers
def _copy(msg):
    out = type(msg)()
    out.CopyFrom(msg)
    return out


def _blob_loss_weights(net):
    """Blob name -> loss weight of its last producer (Caffe's blob_loss_weights_)."""
    out = {}
    for node, _, weights, _ in net._nodes:
        for top, w in zip(node.tops, weights):
            out[top] = w
    return out


def _pick_source(sources, phase, layer_param, default=None):
    """The list file for an HDF5Data layer: ``sources`` keyed by "<phase>:<layer>" (e.g.
    "test:data"), by layer name, or by the original source string; else ``default``."""
    for key in (f"{phase.lower()}:{layer_param.name}", f"{phase.upper()}:{layer_param.name}",
                layer_param.name, layer_param.hdf5_data_param.source):
        if key in sources:
            return sources[key]
    return default


def _describe_data(net_param, data_sources):
    """A note naming the HDF5 files and dataset shapes the data layers read (for errors that
    come from data of the wrong shape)."""
    import h5py

    from ..data.hdf5 import read_source_list
    notes = []
    for lp in net_param.layer:
        if lp.type != "HDF5Data":
            continue
        source = data_sources.get(lp.name, lp.hdf5_data_param.source)
        try:
            first = read_source_list(source)[0]
            with h5py.File(first, "r") as f:
                shapes = ", ".join(f"'{t}' {tuple(f[t].shape)}" for t in lp.top if t in f)
            notes.append(f"HDF5Data layer '{lp.name}' reads {shapes} from '{first}' (listed "
                         f"in '{source}')")
        except Exception:  # the note is best effort; the error itself is already raised
            continue
    return ("\n  data: " + "; ".join(notes)) if notes else ""


def share_trained_layers(target, source):
    """Caffe's Net::ShareTrainedLayersWith: layers of ``target`` named as a layer of ``source``
    use that layer's Parameter objects (blob counts and shapes must agree)."""
    for node, key, _, _ in source._nodes:
        src_blobs = source.layers[key].blobs
        tkey = target._layer_keys.get(node.name)
        if tkey is None:
            continue
        module = target.layers[tkey]
        dst = module.blobs
        if len(dst) != len(src_blobs):
            raise NetError(f"cannot share layer '{node.name}' between the train net and test net "
                           f"'{target.name}': {len(src_blobs)} vs {len(dst)} parameter blobs")
        for j, (a, b) in enumerate(zip(src_blobs, dst)):
            if tuple(a.shape) != tuple(b.shape):
                raise NetError(f"cannot share param {j} of layer '{node.name}' with test net "
                               f"'{target.name}': shape {tuple(a.shape)} in the train net, "
                               f"{tuple(b.shape)} in the test net")
            module.set_blob(j, a)


def _resolve_learned_net(learned, state_path):
    """``learned_net`` as Caffe opens it (relative to the working directory), else the file of
    that name beside the solver state."""
    if os.path.exists(learned):
        return learned
    beside = os.path.join(os.path.dirname(os.path.abspath(state_path)),
                          os.path.basename(learned))
    if os.path.exists(beside):
        return beside
    raise WeightsError(f"{state_path}: its weights file '{learned}' (learned_net) does not exist "
                       f"(relative to the working directory {os.getcwd()}, nor beside the "
                       "solver state)")


def copy_weights(net, path, log=None, hdf5=None):
    """Caffe's CopyTrainedLayersFrom (binary or HDF5 caffemodel) with its "Ignoring source
    layer" lines; returns the names of the layers copied."""
    path = os.fspath(path)
    if hdf5 is None:
        hdf5 = path.endswith(".h5")
    if hdf5:
        copied, ignored = _copy_from_hdf5(net, path)
    else:
        copied, ignored = net.copy_from(path)
    if log is not None:
        for name in ignored:
            log.info(f"Ignoring source layer {name}", "net.cpp:746")
    return copied


def _add_diffs(proto, net):
    """Caffe's ToProto(write_diff=true): each blob's ``diff`` holds the parameter's diff."""
    number = caffe_pb2.BlobProto.DESCRIPTOR.fields_by_name["diff"].number
    by_name = {lp.name: lp for lp in proto.layer}
    for node, key, _, _ in net._nodes:
        lp = by_name.get(node.name)
        for bp, p in zip(lp.blobs if lp is not None else [], net.layers[key].blobs):
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            if grad.numel():
                bp.MergeFromString(caffemodel_io.packed_field(
                    number, np.ascontiguousarray(grad.detach().cpu().numpy(), "<f4").tobytes()))


def _owner(net, layer, index):
    entry = net._param_entries.get((layer, index))
    return entry is None or (entry.layer == layer and entry.index == index)


def write_net_hdf5(net, path, write_diff=False):
    """Caffe's Net::ToHDF5: groups ``data/<layer>/<i>`` (and ``diff/...``), atomic."""
    import h5py
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            data = f.create_group("data")
            diff = f.create_group("diff") if write_diff else None
            for node, key, _, _ in net._nodes:
                if node.name in data:
                    continue
                ld = data.create_group(node.name)
                lf = diff.create_group(node.name) if diff is not None else None
                for j, p in enumerate(net.layers[key].blobs):
                    if _owner(net, node.name, j):
                        ld.create_dataset(str(j), data=p.detach().cpu().numpy())
                    if lf is not None:
                        grad = p.grad if p.grad is not None else torch.zeros_like(p)
                        lf.create_dataset(str(j), data=grad.detach().cpu().numpy())


def _copy_from_hdf5(net, path):
    """Caffe's CopyTrainedLayersFromHDF5; returns (copied, ignored) layer names."""
    import h5py
    copied, ignored = [], []
    try:
        f = h5py.File(path, "r")
    except (OSError, FileNotFoundError) as e:
        raise WeightsError(f"{path}: cannot open HDF5 weights: {e}") from None
    with f:
        if "data" not in f:
            raise WeightsError(f"{path}: no 'data' group; not a Caffe HDF5 caffemodel")
        for name in f["data"]:
            key = net._layer_keys.get(name)
            if key is None:
                ignored.append(name)
                continue
            group = f["data"][name]
            target = net.layers[key].blobs
            if len(group) > len(target):
                raise WeightsError(f"{path}: layer '{name}' has {len(group)} blobs, the net "
                                   f"expects {len(target)}")
            arrays = []
            for j, p in enumerate(target):
                if str(j) not in group:
                    if _owner(net, name, j):
                        raise WeightsError(f"{path}: layer '{name}' lacks blob {j}")
                    continue
                arr = np.asarray(group[str(j)], dtype=np.float32)
                if arr.size != p.numel():
                    raise WeightsError(f"{path}: layer '{name}' blob {j}: shape {arr.shape}, "
                                       f"the net expects {tuple(p.shape)}")
                arrays.append((p, arr))
            with torch.no_grad():
                for p, arr in arrays:
                    p.copy_(torch.from_numpy(arr).reshape(p.shape))
            copied.append(name)
    return copied, ignored


def _write_state_hdf5(path, it, learned_net, current_step, history):
    """Caffe's SnapshotSolverStateToHDF5 layout."""
    import h5py
    with h5py.File(path, "w") as f:
        f.create_dataset("iter", data=np.array([it], np.int32))
        f.create_dataset("learned_net", data=np.bytes_(learned_net))
        f.create_dataset("current_step", data=np.array([current_step], np.int32))
        group = f.create_group("history")
        for i, h in enumerate(history):
            group.create_dataset(str(i), data=h.detach().cpu().numpy())


def _read_state_hdf5(path):
    import h5py
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise SolverError(f"{path}: no such solverstate file") from None
    except OSError as e:
        raise SolverError(f"{path}: cannot open HDF5 solver state: {e}") from None
    with f:
        try:
            it = int(np.asarray(f["iter"]).reshape(-1)[0])
            learned = f["learned_net"][()] if "learned_net" in f else None
            if isinstance(learned, np.ndarray):
                learned = learned.reshape(-1)[0]
            if isinstance(learned, bytes):
                learned = learned.decode("utf-8")
            step = int(np.asarray(f["current_step"]).reshape(-1)[0]) if "current_step" in f \
                else 0
            group = f["history"]
            history = [np.asarray(group[str(i)], np.float32) for i in range(len(group))]
        except KeyError as e:
            raise SolverError(f"{path}: not a Caffe HDF5 solver state (missing {e})") from None
    return it, learned, step, history
