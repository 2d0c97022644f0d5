"""The program of the array engine's compiled training loop (:mod:`.run`): the operations of
one iteration (or one test pass) over an :class:`~caffe_compat.array_net.ArrayNet`'s arrays,
the buffers they name, and the registry of per-layer emitters (:mod:`.emitters`).

The operations write the net's own arrays (each blob's data and diff, the parameters, their
diffs, the solver's history), found again by name at each call, so that after a run the blobs
hold what the per-layer loop would have left; only values no blob holds (SoftmaxWithLoss's
probabilities, a product before it is added) live in the program's scratch arrays."""
from __future__ import annotations

import weakref

import numpy as np

from ...rules import registry
from ...kernels.loop_ops import LoopProgram

EMITTERS = registry.entries("array-loop")    # layer type -> emitter (see :func:`emitter`)


class Refused(Exception):
    """A layer or condition the compiled loop does not run as the per-layer loop does."""


def emitter(layer_type):
    """Register a class with ``forward(program, i, node, layer)`` and ``backward(program, i,
    node, layer, bottom_need, param_need)`` writing a layer's operations, as ArrayNet's
    forward_layer and backward_layer run it."""
    def register(cls):
        EMITTERS[layer_type] = cls()
        return cls
    return register


class Program(LoopProgram):
    """The operations of one pass and their buffers: live arrays of the net and the solver
    (resolved again at each call) and scratch arrays of the program's own."""

    # the getters hold the net weakly (and the solver, as the base does): the solver keeps its
    # programs, and a cycle would keep the nets and their open data files until the collector
    # runs
    def __init__(self, solver, net):
        super().__init__(solver)
        self.net_ref = weakref.ref(net)
        self.scratch_arrays = []
        self._blobs = {}

    def scratch(self, count):
        a = np.empty(max(1, int(count)), dtype=np.float32)
        self.scratch_arrays.append(a)
        self.ptrs.append(a.ctypes.data)
        return len(self.ptrs) - 1

    def shape(self, name):
        """Blob ``name``'s shape (as built; a change of shape builds the program again)."""
        return self.net_ref().data[name].shape

    def count(self, name):
        return int(np.prod(self.shape(name), dtype=np.int64))

    def _live(self, key, read):
        """The live pointer of the net's array ``read(net)``, made once per ``key``."""
        ref = self.net_ref
        count = read(ref()).size
        index = self._blobs.get(key)
        if index is None:
            index = self._blobs[key] = self.live_ptr(lambda: _get(ref, read), count)
        return index

    def data(self, name):
        """Blob ``name``'s data array."""
        return self._live(("data", name), lambda n: n.data[name])

    def diff(self, name):
        """Blob ``name``'s diff array (ArrayNet.diff_of: zeros, or a loss top's weight)."""
        return self._live(("diff", name), lambda n: n.diff_of(name))

    def param(self, layer, k):
        return self._live(("param", layer, k), lambda n: n.params[layer][k])

    def param_diff(self, layer, k):
        return self._live(("param_diff", layer, k), lambda n: n.param_diff(layer, k))


def _get(ref, read):
    net = ref()
    return None if net is None else read(net)
