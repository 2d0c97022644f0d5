"""Data feeding: the read position of every HDF5Data layer and the random streams.

Caffe saves neither in a snapshot, so a resumed Caffe run restarts every HDF5 list at row 0.
Here every solver state gets a small sidecar ``<state>.datapos.json`` with the read position of
each HDF5Data layer (train and test nets, with the C library's rand() state its shuffles draw
from) and the state of the random generators (torch's, and each Dropout layer's own), tied to
its solver state by a SHA-256; a run stopped at any iteration
and resumed then continues bit-identically (on CPU) to an uninterrupted one.
``caffe_position=True`` restores Caffe's behaviour instead (reading restarts at row 0). A
snapshot taken during a test pass records that test net's position at the start of the pass.
The binary solver state is written, and every state read, here for both engines
(:meth:`DataFeedMixin.restore`: Caffe's Solver::Restore).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

import numpy as np

from ..data.hdf5 import HDF5Source
from ..errors import DataError, SolverError
from ..io import caffemodel as caffemodel_io
from ..io import solverstate as solverstate_io
from ..io.atomic import write_bytes_atomic
from ..proto import caffe_pb2

SIDECAR_SUFFIX = ".datapos.json"
_SIDECAR_FORMAT = "caffe_compat.datapos/1"
# the log lines about the data position restored with a solverstate: Caffe's Solver::Restore
# reads the state there (src/caffe/solver.cpp)
_RESTORE_LINE = "solver.cpp:486"


def _b64(t):
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s):
    import torch
    return torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())


class DataFeedMixin:
    """Data layers, random streams and their saved positions for
    :class:`~caffe_compat.solvers.base.Solver`."""

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
        import torch
        out = []
        for label, net in self._labelled_nets():
            for node, key, _, _ in net._nodes:
                module = net.layers[key]
                if isinstance(getattr(module, "generator", False), (torch.Generator, type(None))):
                    out.append((f"{label}/{node.name}", module))
        return out

    def _init_random_streams(self):
        """Seed the random layers from ``random_seed`` (one stream each). The HDF5 shuffles
        are Caffe's, on the process's rand(), drawn as the nets were set up
        (:mod:`caffe_compat.data.hdf5`)."""
        base = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy
                                                            % (2 ** 63))
        for k, (label, module) in enumerate(self._generators()):
            import torch
            gen = torch.Generator(device=self.device)
            gen.manual_seed(int(np.random.SeedSequence([base, 2, k]).generate_state(1)[0]))
            module.generator = gen

    def data_position(self):
        """The read position of every HDF5Data layer and the random streams (JSON-able).
        During a test pass, that test net's position at the start of the pass."""
        data = {}
        for label, name, src in self._data_layers():
            data.setdefault(label, {})[name] = src.state_dict()
        import torch
        gens = {label: _b64(module.generator.get_state()) for label, module in self._generators()
                if module.generator is not None}
        rng = {"torch": _b64(torch.get_rng_state()), "generators": gens}
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
            import torch
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

    def snapshot_filename(self, extension):
        return f"{self.param.snapshot_prefix}_iter_{self.iter}{extension}"

    def _write_binary_state(self, model_filename, history):
        """Caffe's SnapshotSolverStateToBinaryProto: this iteration's SolverState with the
        weights file's name and ``history`` (arrays), and its sidecar; the state's path."""
        state = caffe_pb2.SolverState(iter=self.iter, learned_net=model_filename,
                                      current_step=self.current_step)
        for h in history:
            state.history.add().CopyFrom(caffemodel_io.array_to_blob(h))
        path = self.snapshot_filename(".solverstate")
        self.log.info(f"Snapshotting solver state to binary proto file {path}",
                      "sgd_solver.cpp:284")
        data = solverstate_io.solverstate_bytes(state)
        self._write_sidecar(path, data)
        write_bytes_atomic(path, data)
        return path

    def restore(self, path, caffe_position=None):
        """Caffe's Solver::Restore of a .solverstate (Caffe's or ours; ``.h5`` for an HDF5
        state where the engine reads one, :meth:`_read_state_hdf5`): iteration, weights
        (``learned_net``, :meth:`_restore_weights`), ``current_step`` and history, its blobs
        checked against the solver's; then the saved data position, unless ``caffe_position``
        (default: the solver's setting) asks for Caffe's behaviour (reading restarts at row
        0)."""
        path = os.fspath(path)
        caffe_position = self.caffe_position if caffe_position is None else caffe_position
        if path.endswith(".h5"):
            it, learned, step, history = self._read_state_hdf5(path)
            data = solverstate_io.read_state_bytes(path)
        else:
            data = solverstate_io.read_state_bytes(path)
            state = solverstate_io.parse_solverstate(data, path)
            it, step = state.iter, state.current_step
            learned = state.learned_net if state.HasField("learned_net") else None
            history = solverstate_io.history_arrays(state, path)
        if learned:
            self._restore_weights(solverstate_io.resolve_learned_net(learned, path), path)
        params = self._learnable_names()
        if len(history) != len(self.history):
            raise SolverError(f"{path}: {len(history)} history blobs, but the {self.type_name} "
                              f"solver on net '{self.net.name}' ({len(params)} learnable "
                              f"parameters) needs {len(self.history)}; it is a snapshot of a "
                              "different net or solver type")
        for i, (h, arr) in enumerate(zip(self.history, history)):
            if arr.size != np.prod(h.shape):    # one history set after another (Adam: two)
                raise SolverError(f"{path}: history blob {i} has shape {tuple(arr.shape)} but "
                                  f"parameter {params[i % len(params)]} has shape "
                                  f"{tuple(h.shape)}; it is a snapshot of a different net")
        self.iter = int(it)
        self.current_step = int(step)
        self.log.info("SGDSolver: restoring history", "sgd_solver.cpp:336")
        self._load_history(history)
        self._iterations_last = self.iter
        self._restore_data_position(path, data, caffe_position)

    def _restore_data_position(self, path, data, caffe_position):
        """After restoring ``path`` (whose bytes are ``data``): the saved read position from its
        sidecar, or row 0 everywhere (Caffe's behaviour, or when no valid sidecar exists)."""
        if caffe_position:
            self.reset_data_position()
            return
        sidecar = path + SIDECAR_SUFFIX
        if not os.path.exists(sidecar):
            self.log.info(f"No data position saved beside {path}: HDF5Data layers start at "
                          "their first row (Caffe's behaviour)", _RESTORE_LINE)
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
                             "HDF5Data layers start at their first row", _RESTORE_LINE)
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
        self.log.info(f"Restored the data read position from {sidecar}", _RESTORE_LINE)
