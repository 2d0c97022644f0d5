"""Snapshots and restore of the array solver: Caffe's Solver::Snapshot and SGDSolver's
SnapshotSolverStateToBinaryProto / RestoreSolverStateFromBinaryProto.

``<prefix>_iter_<N>.caffemodel`` is the train net's NetParameter with every parameter blob
(:meth:`~caffe_compat.array_net.ArrayNet.save`, the bytes the torch engine writes);
``<prefix>_iter_<N>.solverstate`` holds ``iter``, ``learned_net``, ``current_step`` and one
history blob per learnable parameter. Beside it, as for the torch engine's solver, the read
position of every HDF5Data layer (:mod:`caffe_compat.solvers.feeding`'s sidecar, the same
format, so either engine resumes from the other's snapshots). Restore reads Caffe's files as
well as ours.
"""
from __future__ import annotations

import os

import numpy as np

from ..array_net.layers.hdf5_data import HDF5Data
from ..array_net.registry import Unsupported
from ..errors import SolverError
from ..io import solverstate as solverstate_io
from ..solvers.feeding import DataFeedMixin


class StateMixin(DataFeedMixin):
    """Snapshot, restore and data positions of :class:`~caffe_compat.array_solver.ArraySolver`."""

    caffe_position = False
    _test_pass_start = None

    # ------------------------------------------------------------------ data positions
    def _data_layers(self):
        """``[(net label, layer name, HDF5Source)]`` over the train and test nets."""
        return [(label, node.name, layer.source) for label, net in self._labelled_nets()
                for node, layer in zip(net.nodes, net.layers) if isinstance(layer, HDF5Data)]

    def _generators(self):
        return []                       # no random layer runs on the array engine

    def data_position(self):
        data = {}
        for label, name, src in self._data_layers():
            data.setdefault(label, {})[name] = src.state_dict()
        return {"data": data, "rng": {"generators": {}}}

    # ------------------------------------------------------------------ snapshots
    def snapshot(self):
        """Write the weights and the solver state; returns both paths."""
        model = self.snapshot_filename(".caffemodel")
        self.log.info(f"Snapshotting to binary proto file {model}", "solver.cpp:464")
        self.net.save(model)
        return model, self._write_binary_state(model, self.history)

    def restore(self, path, caffe_position=None):
        """Restore a binary .solverstate (Caffe's or ours): iteration, weights
        (``learned_net``), ``current_step`` and history; then the saved data position, unless
        ``caffe_position`` asks for Caffe's behaviour (reading restarts at row 0)."""
        path = os.fspath(path)
        caffe_position = self.caffe_position if caffe_position is None else caffe_position
        if path.endswith(".h5"):
            raise SolverError(f"{path}: an HDF5 solver state; this solver writes and reads "
                              "binary ones (set CAFFE_COMPAT_ARRAY_NET=0 to restore it on the "
                              "torch engine)")
        data = solverstate_io.read_state_bytes(path)
        state = solverstate_io.parse_solverstate(data, path)
        history = solverstate_io.history_arrays(state, path)
        if state.HasField("learned_net") and state.learned_net:
            model = solverstate_io.resolve_learned_net(state.learned_net, path)
            try:
                self.net.copy_from(model)
            except Unsupported as e:
                raise SolverError(f"{path}: its weights file '{model}' does not fit net "
                                  f"'{self.net.name}': {e}") from None
        if len(history) != len(self.history):
            raise SolverError(f"{path}: {len(history)} history blobs, but an SGD solver on net "
                              f"'{self.net.name}' ({len(self.learnable)} learnable parameters) "
                              f"needs {len(self.history)}; it is a snapshot of a different net "
                              "or solver type")
        for (layer, k, _, _), h, arr in zip(self.learnable, self.history, history):
            if arr.size != h.size:
                raise SolverError(f"{path}: history blob of {layer}/{k} has shape "
                                  f"{tuple(arr.shape)} but the parameter has shape "
                                  f"{tuple(h.shape)}; it is a snapshot of a different net")
        self.iter = int(state.iter)
        self.current_step = int(state.current_step)
        self.log.info("SGDSolver: restoring history", "sgd_solver.cpp:336")
        for h, arr in zip(self.history, history):
            np.copyto(h, np.asarray(arr, np.float32).reshape(h.shape))
        self._iterations_last = self.iter
        self._restore_data_position(path, data, caffe_position)
