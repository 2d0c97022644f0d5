"""Which nets a solver builds, and under which NetState (Caffe's Solver::InitTrainNet and
InitTestNets), for either engine: one train net (exactly one of ``net`` / ``net_param`` /
``train_net`` / ``train_net_param``; NetState TRAIN merged with the net's own ``state`` and
``train_state``) and the test nets (``test_net_param``, ``test_net``, then one instance of the
generic net per remaining ``test_iter``; NetState TEST merged with ``test_state``). Nets
written inside the solver file keep their layers' positions in it for error messages. Torch
is not imported here: the array engine's solver (:mod:`caffe_compat.array_solver`) reads the
same specs."""
from __future__ import annotations

import os

from ..diagnostics import locations
from ..errors import PrototxtError, SolverError
from ..io import positions
from ..io import prototxt as prototxt_io
from ..io.upgrade import upgrade_net
from ..proto import caffe_pb2


# the line of Caffe's Solver::InitTrainNet that logs the train net's field
_TRAIN_NET_LINE = {"train_net_param": "solver.cpp:86", "train_net": "solver.cpp:90",
                   "net_param": "solver.cpp:95", "net": "solver.cpp:102"}


class NetSpecMixin:
    """``_train_net_spec()`` and ``_test_net_specs()`` of a solver with ``param``,
    ``solver_file`` and ``log``."""

    def _read_net_file(self, path, field):
        try:
            return prototxt_io.read_net(path)
        except PrototxtError as e:
            raise SolverError(f"{self.solver_file}: {field} '{path}' cannot be read: {e}") from None

    def _embedded_net(self, field, index, message):
        """A copy of a net written inside the solver file (``field`` #``index``), with the
        positions of its layers in that file, upgraded."""
        net_param = caffe_pb2.NetParameter()
        net_param.CopyFrom(message)
        if os.path.isfile(self.solver_file):
            try:
                text = prototxt_io.read_text_file(self.solver_file, "solver")
            except PrototxtError:
                return upgrade_net(net_param)
            locations.attach(net_param, positions.nested_net_source(
                text, self.solver_file, field, index, net_param))
        return upgrade_net(net_param)

    def _train_net_spec(self):
        """``(net_param, state, which)`` of the train net (``which``: the file or solver field
        named in errors)."""
        p = self.param
        fields = [f for f in ("net", "net_param", "train_net", "train_net_param")
                  if p.HasField(f)]
        if len(fields) != 1:
            raise SolverError(f"{self.solver_file}: the solver must name exactly one train net "
                              f"with one of net, net_param, train_net, train_net_param (it "
                              f"has {', '.join(fields) or 'none'})")
        field = fields[0]
        if field.endswith("_param"):
            self.log.info(f"Creating training net specified in {field}.", _TRAIN_NET_LINE[field])
            net_param = self._embedded_net(field, 0, getattr(p, field))
            which = f"{self.solver_file}: {field}"
        else:
            which = getattr(p, field)
            self.log.info(f"Creating training net from {field} file: {which}",
                          _TRAIN_NET_LINE[field])
            net_param = self._read_net_file(which, field)
        return net_param, net_state(caffe_pb2.TRAIN, net_param.state, p.train_state), which

    def _test_net_specs(self):
        """``[(net_param, state, which, label)]`` of the test nets, in Caffe's order (the
        caller logs ``Creating test net (#i) specified by <label>`` as it builds each)."""
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
                          self._embedded_net("test_net_param", i, p.test_net_param[i]),
                          f"{self.solver_file}: test_net_param #{i}"))
        for path in p.test_net:
            specs.append((f"test_net file: {path}", self._read_net_file(path, "test_net"), path))
        for _ in range(n_total - n_specific):
            if p.HasField("net_param"):
                specs.append(("net_param", self._embedded_net("net_param", 0, p.net_param),
                              f"{self.solver_file}: net_param"))
            else:
                specs.append((f"net file: {p.net}", self._read_net_file(p.net, "net"), p.net))
        return [(net_param, net_state(caffe_pb2.TEST, net_param.state, *p.test_state[i:i + 1]),
                 which, label) for i, (label, net_param, which) in enumerate(specs)]


def net_state(phase, *states):
    """The NetState of a solver's net: ``phase``, then the net's own ``state`` and the
    solver's ``train_state`` / ``test_state`` merged in, in that order (Caffe's
    InitTrainNet / InitTestNets)."""
    s = caffe_pb2.NetState()
    s.phase = phase
    for extra in states:
        s.MergeFrom(extra)
    return s


def _pick_source(sources, phase, layer_param, default=None):
    """The list file for an HDF5Data layer: ``sources`` keyed by "<phase>:<layer>" (e.g.
    "test:data"), by layer name, or by the original source string; else ``default``."""
    for key in (f"{phase.lower()}:{layer_param.name}", f"{phase.upper()}:{layer_param.name}",
                layer_param.name, layer_param.hdf5_data_param.source):
        if key in sources:
            return sources[key]
    return default
