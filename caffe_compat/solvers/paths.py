"""Every path a training run needs, checked before any net is built, and reported at once.

Caffe stops at the first missing path (``CheckSnapshotWritePermissions``, then each net file,
each HDF5 list while the nets are built), so a solver with several placeholders takes as many
runs to fix. Here :meth:`PathCheckMixin._check_paths` looks at all of them first:

- the net files (``net``, ``train_net``, ``test_net``) and the ``weights`` to finetune from;
- every HDF5Data layer that the train net and the test nets keep (phase rules applied), with
  the sources the caller gave (``train_source``, ``test_source``, ``sources``): the list file,
  then every ``.h5`` file it names (resolved as Caffe does, :func:`..data.hdf5.read_source_list`);
- the snapshot prefix: a missing folder is created (what users expect of an output path), a
  placeholder or a folder that cannot be written is a problem.

A path is a placeholder (:func:`is_placeholder`) when it holds ``PATH/TO`` (any case), or starts
with an all-capitals folder such as ``DATA/`` that does not exist: what the published solvers
and nets carry until the user fills them in. All problems come in one :class:`SolverError`,
one line each, with the option that overrides each path.
"""
from __future__ import annotations

import os
import re

from ..errors import CaffeCompatError, SolverError
from ..net.graph import filter_net
from ..io import prototxt as prototxt_io
from ..proto import caffe_pb2
from .net_specs import _pick_source, net_state

__all__ = ["PathCheckMixin", "is_placeholder"]

_PATH_TO = re.compile(r"(^|[/\\])path[/\\]to([/\\]|$)", re.IGNORECASE)
_CAPS = re.compile(r"[A-Z][A-Z0-9_]{2,}")
_LIST_AT_MOST = 5          # missing .h5 files named per list file


def is_placeholder(path):
    """True for a path that is a stand-in to be filled in (see the module doc)."""
    text = os.fspath(path)
    if _PATH_TO.search(text):
        return True
    parts = [p for p in re.split(r"[/\\]", text) if p and p != "."]
    return len(parts) > 1 and bool(_CAPS.fullmatch(parts[0])) and not os.path.exists(parts[0])


class PathCheckMixin:
    """The path check of :class:`~caffe_compat.solvers.base.Solver` (module doc)."""

    def _check_paths(self):
        p = self.param
        problems = []

        def missing(what, path, hint):
            problems.append(_missing_line(what, path, hint))

        nets = []                                   # (NetParameter, NetState, phase name)
        test_state = (lambda i: p.test_state[i] if i < len(p.test_state)
                      else caffe_pb2.NetState())
        n_tests = len(p.test_iter)
        for field in ("net", "train_net", "net_param", "train_net_param"):
            if not p.HasField(field):
                continue
            net = getattr(p, field)
            if not field.endswith("_param"):
                path, net = net, self._net_for_check(net)
                if net is None:
                    missing(f"{field}", path, " (give the net with -model / --net, or net= in "
                            "Python)")
                    continue
            nets.append((net, net_state(caffe_pb2.TRAIN, net.state, p.train_state), "TRAIN"))
            if field in ("net", "net_param"):
                for i in range(len(p.test_net_param) + len(p.test_net), n_tests):
                    nets.append((net, net_state(caffe_pb2.TEST, net.state, test_state(i)), "TEST"))
        for i, net in enumerate(p.test_net_param):
            nets.append((net, net_state(caffe_pb2.TEST, net.state, test_state(i)), "TEST"))
        for j, path in enumerate(p.test_net):
            net = self._net_for_check(path)
            if net is None:
                missing("test_net", path, "")
                continue
            i = len(p.test_net_param) + j
            nets.append((net, net_state(caffe_pb2.TEST, net.state, test_state(i)), "TEST"))
        for entry in p.weights:
            for path in str(entry).split(","):
                if path and not os.path.isfile(path):
                    missing("weights file", path, " (-weights)")
        self._check_data_paths(nets, problems)
        create = self._check_snapshot_path(problems)
        if problems:
            head = (f"{self.solver_file}: {len(problems)} path problem(s); fix them all before "
                    "training:")
            raise SolverError(head + "".join(f"\n  - {line}" for line in problems))
        if create:
            os.makedirs(create, exist_ok=True)
            # where Caffe's CheckSnapshotWritePermissions probes the snapshot prefix
            self.log.info(f"Created the snapshot folder {create}", "solver.cpp:443")

    def _net_for_check(self, path):
        """The net file's NetParameter, or None when the file does not exist (a file that
        exists but does not parse is reported when the net is built, with its position)."""
        if not os.path.isfile(path):
            return None
        try:
            return prototxt_io.read_net(path)
        except CaffeCompatError:
            return caffe_pb2.NetParameter()

    def _check_data_paths(self, nets, problems):
        from ..data.hdf5 import read_source_list
        train_source, test_source, sources = self._source_overrides
        seen = set()
        for net, state, phase in nets:
            try:
                filtered = filter_net(net, phase, state.level, list(state.stage))
            except CaffeCompatError:
                continue                       # reported with its position when built
            default = train_source if phase == "TRAIN" else test_source
            for lp in filtered.layer:
                if lp.type != "HDF5Data":
                    continue
                src = _pick_source(sources, phase, lp, default)
                src = os.fspath(src) if src is not None else lp.hdf5_data_param.source
                key = (phase, lp.name, src)
                if key in seen:
                    continue
                seen.add(key)
                flag = "--train-source" if phase == "TRAIN" else "--test-source"
                what = f"{phase.lower()} data of layer '{lp.name}': HDF5 list"
                if not os.path.isfile(src):
                    hint = (f" (override it with {flag} or --source {phase.lower()}:{lp.name}="
                            f"LIST; Python: {flag[2:].replace('-', '_')}= / sources=)")
                    problems.append(_missing_line(what, src, hint))
                    continue
                absent = _missing_h5(src, read_source_list)
                for lineno, name in absent[:_LIST_AT_MOST]:
                    problems.append(f"{what} {src}:{lineno}: HDF5 file '{name}' does not exist "
                                    "(relative names are read from the working directory or "
                                    "the list's folder)")
                if len(absent) > _LIST_AT_MOST:
                    problems.append(f"{what} '{src}' names {len(absent) - _LIST_AT_MOST} more "
                                    "HDF5 file(s) that do not exist")

    def _check_snapshot_path(self, problems):
        """Caffe's CheckSnapshotWritePermissions, also when only the final snapshot will be
        written: a problem line, or the folder to create (None when it exists)."""
        p = self.param
        if not p.snapshot and not p.snapshot_after_train:
            return None
        if p.snapshot and not p.HasField("snapshot_prefix"):
            problems.append("snapshot is set but snapshot_prefix is not (give one with "
                            "--snapshot-prefix, or snapshot_prefix= in Python)")
            return None
        prefix = p.snapshot_prefix
        hint = (" (choose another with --snapshot-prefix, or snapshot_prefix= in Python)"
                if not self._prefix_overridden else "")
        if is_placeholder(prefix):
            problems.append(f"snapshot prefix '{prefix}' is a placeholder{hint}")
            return None
        folder = os.path.dirname(prefix) or "."
        probe = folder
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe)
        probe = probe or "."
        if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
            problems.append(f"snapshot prefix '{prefix}': folder '{probe}' is not a writable "
                            f"folder{hint}")
            return None
        return None if os.path.isdir(folder) else folder


def _missing_line(what, path, hint):
    kind = "is a placeholder" if is_placeholder(path) else "does not exist"
    return f"{what} '{path}' {kind}{hint}"


def _missing_h5(list_path, read_source_list):
    """``(line, name)`` of every name of a list file that resolves to no file (resolved as
    read_source_list resolves them)."""
    from ..errors import DataError
    try:
        read_source_list(list_path)
        return []
    except DataError:
        pass
    folder = os.path.dirname(os.path.abspath(list_path))
    out = []
    try:
        with open(list_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []                               # reported by the data layer when built
    for lineno, line in enumerate(lines, 1):
        for token in line.split():
            if not (os.path.exists(token) or (not os.path.isabs(token) and
                                              os.path.exists(os.path.join(folder, token)))):
                out.append((lineno, token))
    return out
