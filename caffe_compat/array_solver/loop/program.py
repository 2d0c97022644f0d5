"""The program of the array engine's compiled training loop (:mod:`.run`): the operations of
one iteration (or one test pass) over an :class:`~caffe_compat.array_net.ArrayNet`'s arrays,
the buffers they name, and the registry of per-layer emitters (one module per layer type in
this package).

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

    def _cached(self, key, getter, count):
        index = self._blobs.get(key)
        if index is None:
            index = self._blobs[key] = self.live_ptr(getter, count)
        return index

    def data(self, name):
        """Blob ``name``'s data array."""
        ref = self.net_ref
        return self._cached(("data", name), lambda: _get(ref, lambda n: n.data[name]),
                            self.count(name))

    def diff(self, name):
        """Blob ``name``'s diff array (ArrayNet.diff_of: zeros, or a loss top's weight)."""
        ref = self.net_ref
        self.net_ref().diff_of(name)
        return self._cached(("diff", name), lambda: _get(ref, lambda n: n.diff_of(name)),
                            self.count(name))

    def param(self, layer, k):
        ref = self.net_ref
        count = self.net_ref().params[layer][k].size
        return self._cached(("param", layer, k),
                            lambda: _get(ref, lambda n: n.params[layer][k]), count)

    def param_diff(self, layer, k):
        ref = self.net_ref
        count = self.net_ref().param_diff(layer, k).size
        return self._cached(("param_diff", layer, k),
                            lambda: _get(ref, lambda n: n.param_diff(layer, k)), count)


def _get(ref, read):
    net = ref()
    return None if net is None else read(net)


