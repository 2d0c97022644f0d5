"""Snapshots and restore: Caffe's Solver::Snapshot, SnapshotSolverState and Restore.

``<prefix>_iter_<N>.caffemodel`` + ``.solverstate`` (or ``.caffemodel.h5`` + ``.solverstate.h5``
with ``snapshot_format: HDF5``, Caffe's HDF5 layouts), written atomically, with the data-position
sidecar of :mod:`.feeding` beside the state. ``restore`` reads Caffe's states and ours: the
iteration, ``current_step``, the history blobs (checked against the net's learnable parameters)
and the weights of ``learned_net`` (relative to the working directory as Caffe opens it, else
beside the state).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..parallel import data_parallel as parallel
from ..errors import SolverError
from ..io import caffemodel as caffemodel_io
from ..io import solverstate as solverstate_io
from ..io.atomic import atomic_path
from ..proto import caffe_pb2
from .weights import copy_weights, write_net_hdf5

SP = caffe_pb2.SolverParameter


class SnapshotMixin:
    """Snapshots and restore of :class:`~caffe_compat.solvers.base.Solver`."""

    # ------------------------------------------------------------------ snapshots
    def snapshot(self):
        """Write the weights and the solver state (Caffe's Solver::Snapshot); returns both
        paths."""
        if not parallel.is_root():      # data-parallel training: rank 0 snapshots
            return None, None
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
            self._write_sidecar(path, solverstate_io.read_state_bytes(path))
            return path
        return self._write_binary_state(model_filename,
                                        [h.detach().cpu().numpy() for h in self.history])

    # ------------------------------------------------------------------ restore
    def restore(self, path, caffe_position=None):
        """Restore a .solverstate (Caffe's or ours; ``.h5`` for HDF5 states): iteration, weights
        (``learned_net``), ``current_step`` and history; then the saved data position, unless
        ``caffe_position`` (default: the solver's setting) asks for Caffe's behaviour."""
        path = os.fspath(path)
        caffe_position = self.caffe_position if caffe_position is None else caffe_position
        if path.endswith(".h5"):
            it, learned, step, history = _read_state_hdf5(path)
            data = solverstate_io.read_state_bytes(path)
        else:
            data = solverstate_io.read_state_bytes(path)
            state = solverstate_io.parse_solverstate(data, path)
            it, step = state.iter, state.current_step
            learned = state.learned_net if state.HasField("learned_net") else None
            history = solverstate_io.history_arrays(state, path)
        if learned:
            model = solverstate_io.resolve_learned_net(learned, path)
            copied = copy_weights(self.net, model, self.log)
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
        self._restore_data_position(path, data, caffe_position)


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


def _write_state_hdf5(path, it, learned_net, current_step, history):
    """Caffe's SnapshotSolverStateToHDF5 layout."""
    import h5py
    with h5py.File(path, "w") as f:
        f.create_dataset("iter", data=np.array([it], np.int32))
        _write_string(f, "learned_net", learned_net)
        f.create_dataset("current_step", data=np.array([current_step], np.int32))
        group = f.create_group("history")
        for i, h in enumerate(history):
            group.create_dataset(str(i), data=h.detach().cpu().numpy())


def _write_string(f, name, text):
    """Caffe's ``hdf5_save_string`` (HDF5's ``H5LTmake_dataset_string``): a scalar of one
    fixed-length string, its terminating NUL included (Caffe's ``hdf5_load_string`` reads
    that many bytes as a C string, so a string without it would run on past its end)."""
    import h5py
    data = text.encode("utf-8")
    kind = h5py.h5t.C_S1.copy()
    kind.set_size(len(data) + 1)
    kind.set_strpad(h5py.h5t.STR_NULLTERM)
    dataset = h5py.h5d.create(f.id, name.encode(), kind, h5py.h5s.create(h5py.h5s.SCALAR))
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array(data, dtype=f"S{len(data) + 1}"),
                  mtype=kind)


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
