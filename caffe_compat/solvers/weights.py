"""Weights files of a solver's nets: Caffe's CopyTrainedLayersFrom (binary or HDF5) and
Net::ToHDF5.

Binary caffemodels go through :meth:`caffe_compat.Net.copy_from` (by layer name, Caffe's shape
rules); HDF5 caffemodels (``data/<layer>/<i>`` groups) follow CopyTrainedLayersFromHDF5: a layer
of the file that the net lacks is ignored, a blob count or size mismatch is an error, and a
blob shared from another layer may be absent.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import WeightsError
from ..io.atomic import atomic_path


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
            defined = net._defined_at(name)     # "net.prototxt:12:1: " for a net read from text
            if len(group) > len(target):
                raise WeightsError(f"{path}: {defined}layer '{name}' has {len(group)} blobs, "
                                   f"the net expects {len(target)}")
            arrays = []
            for j, p in enumerate(target):
                if str(j) not in group:
                    if _owner(net, name, j):
                        raise WeightsError(f"{path}: {defined}layer '{name}' lacks blob {j}")
                    continue
                arr = np.asarray(group[str(j)], dtype=np.float32)
                if arr.size != p.numel():
                    raise WeightsError(f"{path}: {defined}layer '{name}' blob {j}: shape "
                                       f"{arr.shape}, the net expects {tuple(p.shape)}")
                arrays.append((p, arr))
            with torch.no_grad():
                for p, arr in arrays:
                    p.copy_(torch.from_numpy(arr).reshape(p.shape))
            copied.append(name)
    return copied, ignored
