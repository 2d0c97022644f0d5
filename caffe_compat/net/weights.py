"""A :class:`~caffe_compat.net.core.Net`'s weights and definition going out and coming in:
caffemodels (Caffe's CopyTrainedLayersFrom and Net::ToProto), state_dicts keyed
``<layer>.<blob>``, and the inference definition other engines read.

Copying by layer name follows Caffe: layers of the file absent from the net are ignored, layers
of the net absent from the file keep their values, a blob count or shape mismatch is an error
(Blob::ShapeEquals: a legacy 4-D blob matches a target of at most 4 axes aligned from the end),
and a refused file leaves the net unchanged."""
from __future__ import annotations

import collections
import os
import warnings

import numpy as np
import torch

from ..diagnostics.weights_coverage import WeightsCoverage
from ..errors import WeightsError
from ..io import blobproto, hdf5_kind
from ..io import caffemodel as caffemodel_io
from ..io import prototxt as prototxt_io
from ..proto import caffe_pb2
from ..rules.input import input_rule
from .caffemodel_out import CaffemodelOutMixin


class NetWeightsMixin(CaffemodelOutMixin):
    """Weights I/O and exports of :class:`~caffe_compat.net.core.Net`."""

    def copy_from(self, weights, strict=False, *, coverage=None, source=None):
        """Copy blobs by layer name from a caffemodel (Caffe's CopyTrainedLayersFrom): a path
        (binary, or HDF5 where the file is one, as Caffe's H5Fis_hdf5 tells) or a
        NetParameter (``source`` names it in messages).

        Layers of the file absent from the net are ignored and layers of the net absent from the
        file keep their values, as in Caffe, said by a
        :class:`~caffe_compat.errors.WeightsMismatchWarning`
        (:mod:`caffe_compat.diagnostics.weights_coverage`); a blob count or shape mismatch is
        an error (and nothing is copied). With ``strict`` every missing, unexpected and
        mis-shaped blob is reported in one error instead. ``coverage``: a
        :class:`~caffe_compat.diagnostics.weights_coverage.WeightsCoverage` of this net that
        counts the file and reports nothing (several files report once, together).
        Returns ``(copied_layers, ignored_layers)``."""
        values = None
        if isinstance(weights, caffe_pb2.NetParameter):
            src, where = weights, source or "<NetParameter>"
        else:
            where = os.fspath(weights)
            if hdf5_kind.is_hdf5_file(where):
                return self._copy_from_hdf5(where, strict, coverage)
            # blob values as views of the file's bytes: no protobuf copies (blob_wire)
            src, values = caffemodel_io.read_caffemodel_values(where)
        matched, ignored, problems = blobproto.layer_blob_arrays(
            src, values, where, self._blob_shapes_of, self.graph.defined_at, strict)
        cover = self.weights_coverage() if coverage is None else coverage
        cover.add(where, [(lp.name, len(lp.blobs)) for lp in src.layer])
        if strict and coverage is None:
            problems += cover.missing_lines()
        if problems:
            raise WeightsError(f"{where}: cannot copy weights into net '{self.name}':\n  "
                               + "\n  ".join(problems))
        if coverage is None:
            cover.report()      # before the copy: raised as an error, it leaves the net as is
        with torch.no_grad(), warnings.catch_warnings():
            # only now: a refused file leaves the net unchanged. Values read straight from
            # the file are read-only views; copy_ only reads them (torch warns regardless).
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            for name, arrays in matched:
                for p, a in zip(self.layers[self._layer_keys[name]].blobs, arrays):
                    # ascontiguousarray makes 0-d blobs (shared PReLU slope) 1-d
                    p.copy_(torch.from_numpy(np.ascontiguousarray(a)).reshape(p.shape))
        return [name for name, _ in matched], ignored

    def weights_coverage(self):
        """A :class:`~caffe_compat.diagnostics.weights_coverage.WeightsCoverage` of this net:
        its layers with a key per parameter blob (one key for a blob shared by layers)."""
        layers = []
        for node, key, _, _ in self._nodes:
            blobs = self.layers[key].blobs
            entries = [self._param_entries.get((node.name, i)) for i in range(len(blobs))]
            layers.append((node.name, [(node.name, i) if e is None else (e.layer, e.index)
                                       for i, e in enumerate(entries)]))
        return WeightsCoverage(self.name, layers, self.graph.defined_at)

    def _copy_from_hdf5(self, path, strict=False, coverage=None):
        """Caffe's CopyTrainedLayersFromHDF5: layers ``data/<layer>`` holding datasets ``0``,
        ``1``, ...; a layer of the file that the net lacks is ignored, a blob count or size
        mismatch is an error (nothing copied), a blob shared from another layer may be absent.
        An HDF5 file of another kind (a data file, a solver state) is refused, saying which
        (:mod:`caffe_compat.io.hdf5_kind`). Returns ``(copied_layers, ignored_layers)``."""
        import h5py
        if not hdf5_kind.is_hdf5_file(path):      # no HDF5 file: the binary reader says what
            return self.copy_from(path, strict, coverage=coverage)
        other = hdf5_kind.not_weights(path)
        if other is not None:
            raise WeightsError(other)
        try:
            copied, ignored, arrays, file_layers = self._read_hdf5(h5py, path)
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:   # damaged
            raise WeightsError(f"{path}: cannot read this HDF5 caffemodel: {exc}") from None
        cover = self.weights_coverage() if coverage is None else coverage
        cover.add(path, file_layers)
        if coverage is None:
            cover.report(strict=strict)
        with torch.no_grad():
            for p, arr in arrays:
                p.copy_(torch.from_numpy(arr).reshape(p.shape))
        return copied, ignored

    def _read_hdf5(self, h5py, path):
        """(copied, ignored, [(parameter, float32 array)], [(file layer, blob count)]) of an
        HDF5 caffemodel, checked against the net (:meth:`_copy_from_hdf5`)."""
        copied, ignored, arrays, file_layers = [], [], [], []
        with h5py.File(path, "r") as f:
            for name, group in f["data"].items():
                file_layers.append((name, len(group)))
                key = self._layer_keys.get(name)
                if key is None:
                    ignored.append(name)
                    continue
                target = self.layers[key].blobs
                defined = self.graph.defined_at(name)   # "net.prototxt:12:1: " for a net from text
                if len(group) > len(target):
                    raise WeightsError(f"{path}: {defined}layer '{name}' has {len(group)} "
                                       f"blobs, the net expects {len(target)}")
                for j, p in enumerate(target):
                    if str(j) not in group:
                        if self._owns(name, j):
                            raise WeightsError(f"{path}: {defined}layer '{name}' lacks blob {j}")
                        continue
                    blob = group[str(j)]
                    if not isinstance(blob, h5py.Dataset) or blob.size != p.numel():
                        shape = blob.shape if isinstance(blob, h5py.Dataset) else "a group"
                        raise WeightsError(f"{path}: {defined}layer '{name}' blob {j}: shape "
                                           f"{shape}, the net expects {tuple(p.shape)}")
                    arrays.append((p, np.asarray(blob, dtype=np.float32)))   # sized first
                copied.append(name)
        return copied, ignored, arrays, file_layers

    def _owns(self, layer, index):
        """Whether blob ``index`` of ``layer`` is its own (not shared from another layer)."""
        entry = self._param_entries.get((layer, index))
        return entry is None or (entry.layer == layer and entry.index == index)

    def _blob_shapes_of(self, layer_name):
        """The shapes of layer ``layer_name``'s parameter blobs, None for a layer not here."""
        key = self._layer_keys.get(layer_name)
        return None if key is None else [tuple(p.shape) for p in self.layers[key].blobs]

    def caffe_state_dict(self):
        """Parameters keyed ``"<layer name>.<blob name>"`` (e.g. ``conv1.weight``), layer order."""
        out = collections.OrderedDict()
        for node, key, _, _ in self._nodes:
            module = self.layers[key]
            for blob_name in module._blob_order:
                out[f"{node.name}.{blob_name}"] = getattr(module, blob_name).detach()
        return out

    def load_caffe_state_dict(self, state_dict, strict=True):
        """Load parameters keyed as :meth:`caffe_state_dict` writes them; shapes must match.

        With ``strict`` every missing, unexpected and mis-shaped key is reported in one error."""
        own = self.caffe_state_dict()
        problems = []
        for k, v in state_dict.items():
            if k not in own:
                if strict:
                    problems.append(f"unexpected key '{k}'")
            elif tuple(v.shape) != tuple(own[k].shape):
                problems.append(f"'{k}': shape {tuple(v.shape)}, the net expects "
                                f"{tuple(own[k].shape)}")
        if strict:
            problems += [f"missing key '{k}'" for k in own if k not in state_dict]
        if problems:
            raise WeightsError(f"cannot load state_dict into net '{self.name}':\n  "
                               + "\n  ".join(problems))
        with torch.no_grad():
            for k, v in state_dict.items():
                if k in own:
                    own[k].copy_(torch.as_tensor(v))

    def to_proto(self, with_blobs=True):
        """The net as Caffe's Net::ToProto writes it (layers with their blobs, splits included)."""
        out = caffe_pb2.NetParameter()
        out.name = self.name
        for node, key, _, _ in self._nodes:
            lp = out.layer.add()
            lp.CopyFrom(node.param)
            del lp.blobs[:]
            self.layers[key].export_param(lp)
            if with_blobs:
                for p in self.layers[key].blobs:
                    lp.blobs.add().CopyFrom(caffemodel_io.array_to_blob(
                        p.detach().cpu().numpy(), double=p.dtype == torch.float64))
        return out

    def inference_proto(self):
        """The net definition for inference engines (e.g. OpenCV's Caffe importer): this phase's
        layers without loss, Accuracy and Silence layers, without auto-inserted splits, and with
        Input tops that nothing consumes any more removed."""
        out = caffe_pb2.NetParameter()
        out.CopyFrom(self.graph.filtered)
        del out.layer[:]
        out.ClearField("state")
        defined = {lp.name for lp in self.graph.filtered.layer}     # (not an inserted Split)
        nodes = [n for n in self._nodes if n[0].type != "Split" or n[0].name in defined]
        kept = [lp for lp, (_, key, _, _) in zip(self.graph.filtered.layer, nodes)
                if lp.type not in ("Silence", "Accuracy") and not self.layers[key].is_loss]
        used = {b for lp in kept for b in lp.bottom}
        for lp in kept:
            new = out.layer.add()
            new.CopyFrom(lp)
            del new.include[:]
            del new.exclude[:]
            if lp.type == "Input":
                shapes = input_rule(lp).shapes
                del new.top[:]
                del new.input_param.shape[:]
                for top, shape in zip(lp.top, shapes):
                    if top in used:
                        new.top.append(top)
                        new.input_param.shape.add().dim.extend(shape)
                if not len(new.top):
                    del out.layer[-1]
        return out

    def save_prototxt(self, path, inference=True):
        """Write the matching net definition (atomic): :meth:`inference_proto` by default, or
        this phase's full filtered definition with ``inference=False``."""
        prototxt_io.write_prototxt(self.inference_proto() if inference else self.graph.filtered,
                                   path)

    def _blob_values(self):
        """Per layer, ``[(parameter values, float64?)]`` (:mod:`.caffemodel_out`)."""
        return [[(p.detach().cpu().numpy(), p.dtype == torch.float64)
                 for p in self.layers[key].blobs] for _, key, _, _ in self._nodes]
