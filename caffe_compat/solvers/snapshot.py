"""Snapshots and restore: Caffe's Solver::Snapshot, SnapshotSolverState and Restore.

``<prefix>_iter_<N>.caffemodel`` + ``.solverstate`` (or ``.caffemodel.h5`` + ``.solverstate.h5``
with ``snapshot_format: HDF5``, Caffe's HDF5 layouts), written atomically, with the data-position
sidecar of :mod:`.feeding` beside the state. ``restore`` reads Caffe's states and ours: the
iteration, ``current_step``, the history blobs (checked against the net's learnable parameters)
and the weights of ``learned_net`` (relative to the working directory as Caffe opens it, else
beside the state).
"""
from __future__ import annotations

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
    # (the steps of :meth:`~caffe_compat.solvers.feeding.DataFeedMixin.restore` that touch
    # the torch engine's nets and history)
    def _restore_weights(self, model, path):
        if not copy_weights(self.net, model, self.log) and self.net.learnable:
            raise SolverError(f"{path}: its weights file '{model}' shares no layer with net "
                              f"'{self.net.name}'; it is a snapshot of a different net")

    def _learnable_names(self):
        return [f"{e.layer}/{e.index}" for e in self.net.learnable]

    def _load_history(self, history):
        with torch.no_grad():
            for h, arr in zip(self.history, history):
                h.copy_(torch.from_numpy(np.ascontiguousarray(arr, np.float32)).reshape(h.shape))

    @staticmethod
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
                step = int(np.asarray(f["current_step"]).reshape(-1)[0]) \
                    if "current_step" in f else 0
                group = f["history"]
                history = [np.asarray(group[str(i)], np.float32) for i in range(len(group))]
            except KeyError as e:
                raise SolverError(f"{path}: not a Caffe HDF5 solver state (missing {e})") \
                    from None
        return it, learned, step, history


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
