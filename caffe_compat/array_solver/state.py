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

import numpy as np

from ..array_net.layers.hdf5_data import HDF5Data
from ..array_net.registry import Unsupported
from ..errors import SolverError
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

    # ------------------------------------------------------------------ restore
    # (the steps of :meth:`~caffe_compat.solvers.feeding.DataFeedMixin.restore` that touch
    # the array engine's net and history)
    def _read_state_hdf5(self, path):
        raise SolverError(f"{path}: an HDF5 solver state; this solver writes and reads "
                          "binary ones (set CAFFE_COMPAT_ARRAY_NET=0 to restore it on the "
                          "torch engine)")

    def _restore_weights(self, model, path):
        try:
            self.net.copy_from(model)
        except Unsupported as e:
            raise SolverError(f"{path}: its weights file '{model}' does not fit net "
                              f"'{self.net.name}': {e}") from None

    def _learnable_names(self):
        return [f"{layer}/{k}" for layer, k, _, _ in self.learnable]

    def _load_history(self, history):
        for h, arr in zip(self.history, history):
            np.copyto(h, np.asarray(arr, np.float32).reshape(h.shape))
