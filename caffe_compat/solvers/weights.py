"""Weights files of a solver's nets: Caffe's CopyTrainedLayersFrom (binary or HDF5) and
Net::ToHDF5.

Both kinds go through :meth:`caffe_compat.Net.copy_from` (by layer name, Caffe's shape rules;
HDF5 caffemodels, ``data/<layer>/<i>`` groups, follow CopyTrainedLayersFromHDF5: a layer of the
file that the net lacks is ignored, a blob count or size mismatch is an error, and a blob shared
from another layer may be absent).
"""
from __future__ import annotations

import os

import torch

from ..io.atomic import atomic_path


def copy_weights(net, path, log=None, coverage=None):
    """Caffe's CopyTrainedLayersFrom (binary or HDF5 caffemodel, told apart by the file's
    signature as Caffe's H5Fis_hdf5 does) with its
    "Ignoring source layer" lines, then the mismatch of weights that leave layers of the net
    uncovered (:mod:`caffe_compat.diagnostics.weights_coverage`: a ``W`` line in ``log`` and a
    :class:`~caffe_compat.errors.WeightsMismatchWarning`). ``coverage``: a
    :class:`~caffe_compat.diagnostics.weights_coverage.WeightsCoverage` of ``net`` that counts
    this file and reports nothing (the caller reports several files together). Returns the
    names of the layers copied."""
    cover = net.weights_coverage() if coverage is None else coverage
    copied, ignored = net.copy_from(os.fspath(path), coverage=cover)
    if log is not None:
        for name in ignored:
            log.info(f"Ignoring source layer {name}", "net.cpp:746")
    if coverage is None:
        cover.report(log)
    return copied


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
                    if net._owns(node.name, j):
                        ld.create_dataset(str(j), data=p.detach().cpu().numpy())
                    if lf is not None:
                        grad = p.grad if p.grad is not None else torch.zeros_like(p)
                        lf.create_dataset(str(j), data=grad.detach().cpu().numpy())
