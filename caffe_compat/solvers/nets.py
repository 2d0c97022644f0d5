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

from ..data.caffe_random import thread_stream
from ..errors import CaffeCompatError, NetError
from ..net.graph import filter_net
from ..net.core import Net
from ..net.summary import log_built_net
from ..proto import caffe_pb2
from .net_specs import NetSpecMixin, _pick_source
from .weights import copy_weights


class NetSetupMixin(NetSpecMixin):
    """Builds the train and test nets of :class:`~caffe_compat.solvers.base.Solver`."""

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
        cover = net.weights_coverage()          # layers no file covers: said once, after all
        for w in self.param.weights:
            self.load_weights(net, w, cover)
        cover.report(self.log)
        return net

    def _init_train_net(self):
        net_param, state, which = self._train_net_spec()
        return self._build_net(net_param, state, caffe_pb2.Phase.Name(state.phase), self.seed,
                               which)

    def _init_test_nets(self):
        nets = []
        for i, (net_param, state, which, label) in enumerate(self._test_net_specs()):
            self.log.info(f"Creating test net (#{i}) specified by {label}", "solver.cpp:190")
            seed = None if self.seed is None else self.seed + 1 + i
            nets.append(self._build_net(net_param, state, caffe_pb2.Phase.Name(state.phase),
                                        seed, which))
        return nets

    # ------------------------------------------------------------------ weights
    def load_weights(self, net, model_list, coverage=None):
        """Caffe's LoadNetWeights: each comma-separated caffemodel copied in by layer name;
        layers of the net that none of them covers are said once, after the last
        (:mod:`caffe_compat.diagnostics.weights_coverage`), or by the caller of a
        ``coverage`` given (which counts them)."""
        cover = net.weights_coverage() if coverage is None else coverage
        for path in str(model_list).split(","):
            self.log.info(f"Finetuning from {path}", "solver.cpp:72")
            copy_weights(net, path, self.log, coverage=cover)
        if coverage is None:
            cover.report(self.log)


def _in(which, error):
    """``error``'s message placed in ``which`` (the net file or solver field), unless it
    already starts with a ``file:line:column`` position."""
    text = str(error)
    return text if _POSITIONED.match(text) else f"{which}: {text}"


_POSITIONED = re.compile(r"^[^\n]+?:\d+:\d+: ")


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
