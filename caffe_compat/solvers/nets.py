"""The solver's nets: Caffe's Solver::InitTrainNet / InitTestNets and the --weights copy.

One train net (``net`` / ``net_param`` / ``train_net`` / ``train_net_param``, NetState = TRAIN
merged with the net's own ``state`` and ``train_state``) and the test nets (``test_net_param``,
``test_net``, then one instance of the generic net per remaining ``test_iter``; NetState TEST
merged with ``test_state``). Test nets use the train net's parameters (Caffe's
ShareTrainedLayersWith: layers of the same name hold the same Parameter objects). ``weights``
(solver field or ``-weights``) are copied into every net by layer name. HDF5Data layers read the
list files the caller names (``train_source`` / ``test_source`` / ``sources``).
"""
from __future__ import annotations

import os
import re

from ..diagnostics import locations
from ..data.caffe_random import thread_stream
from ..errors import CaffeCompatError, NetError, PrototxtError, SolverError
from ..net.graph import filter_net
from ..io import positions
from ..io import prototxt as prototxt_io
from ..io.upgrade import upgrade_net
from ..net.core import Net
from ..net.summary import log_built_net
from ..proto import caffe_pb2
from .weights import copy_weights


class NetSetupMixin:
    """Builds the train and test nets of :class:`~caffe_compat.solvers.base.Solver`."""

    def _read_net_file(self, path, field):
        try:
            return prototxt_io.read_net(path)
        except PrototxtError as e:
            raise SolverError(f"{self.solver_file}: {field} '{path}' cannot be read: {e}") from None

    def _embedded_net(self, field, index, message):
        """A copy of a net written inside the solver file (``field`` #``index``), with the
        positions of its layers in that file."""
        net_param = _copy(message)
        if os.path.isfile(self.solver_file):
            try:
                text = prototxt_io.read_text_file(self.solver_file, "solver")
            except PrototxtError:
                return net_param
            locations.attach(net_param, positions.nested_net_source(
                text, self.solver_file, field, index, net_param))
        return net_param

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
                      stages=list(state.stage), seed=seed, data_sources=data_sources,
                      caffe_rng=thread_stream())
        except NetError as e:
            raise NetError(f"{_in(which, e)}{_describe_data(filtered, data_sources)}") from None
        except CaffeCompatError as e:
            raise type(e)(_in(which, e)) from None
        log_built_net(net, self.log, net_param, state)
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
            net_param = self._embedded_net("train_net_param", 0, p.train_net_param)
            which = f"{self.solver_file}: train_net_param"
        elif field == "train_net":
            self.log.info(f"Creating training net from train_net file: {p.train_net}",
                          "solver.cpp:90")
            net_param = self._read_net_file(p.train_net, "train_net")
            which = p.train_net
        elif field == "net_param":
            self.log.info("Creating training net specified in net_param.", "solver.cpp:95")
            net_param = self._embedded_net("net_param", 0, p.net_param)
            which = f"{self.solver_file}: net_param"
        else:
            self.log.info(f"Creating training net from net file: {p.net}", "solver.cpp:102")
            net_param = self._read_net_file(p.net, "net")
            which = p.net
        if field.endswith("_param"):
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
            specs.append(("test_net_param",
                          upgrade_net(self._embedded_net("test_net_param", i,
                                                         p.test_net_param[i])),
                          f"{self.solver_file}: test_net_param #{i}"))
        for path in p.test_net:
            specs.append((f"test_net file: {path}", self._read_net_file(path, "test_net"), path))
        for _ in range(n_total - n_specific):
            if p.HasField("net_param"):
                specs.append(("net_param",
                              upgrade_net(self._embedded_net("net_param", 0, p.net_param)),
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

    # ------------------------------------------------------------------ weights
    def load_weights(self, net, model_list):
        """Caffe's LoadNetWeights: each comma-separated caffemodel copied in by layer name."""
        for path in str(model_list).split(","):
            self.log.info(f"Finetuning from {path}", "solver.cpp:72")
            copy_weights(net, path, self.log)


def _in(which, error):
    """``error``'s message placed in ``which`` (the net file or solver field), unless it
    already starts with a ``file:line:column`` position."""
    text = str(error)
    return text if _POSITIONED.match(text) else f"{which}: {text}"


_POSITIONED = re.compile(r"^[^\n]+?:\d+:\d+: ")


def _copy(msg):
    out = type(msg)()
    out.CopyFrom(msg)
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


def share_trained_layers(target, source, check_only=False):
    """Caffe's Net::ShareTrainedLayersWith: layers of ``target`` named as a layer of ``source``
    use that layer's Parameter objects (blob counts and shapes must agree; ``check_only``:
    raise where they do not, share nothing)."""
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
            if not check_only:
                module.set_blob(j, a)
