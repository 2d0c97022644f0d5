"""The program of :mod:`caffe_compat.solvers.tiny_solve`: the operations of one iteration
over a net's blobs (the opcodes of ``caffe_compat/kernels/_tiny_solve.c``), the buffers they
name, and the registry of per-layer emitters (one module per layer type in this package)."""
from __future__ import annotations

import numpy as np
import torch

from ...rules import registry
from ...kernels.loop_ops import OPS, LoopProgram, array_address  # noqa: F401  (OPS: opcodes)

EMITTERS = registry.entries("tiny")     # layer type -> emitter (see :func:`emitter`)


class Refused(Exception):
    """A layer or condition the compiled loop cannot honour exactly."""


def emitter(layer_type):
    """Register a class with ``forward(program, i, node, module)`` and ``backward(program, i,
    node, module, wanted, want_params)`` emitting a layer's operations in a training pass,
    and optionally ``infer(program, i, node, module)`` for a test pass (default: forward)."""
    def register(cls):
        EMITTERS[layer_type] = cls()
        return cls
    return register


def infer(emit, prog, i, node, module):
    """The test-pass form of a layer: its emitter's ``infer``, else its ``forward``."""
    fn = getattr(emit, "infer", None)
    (fn or emit.forward)(prog, i, node, module)


class Program(LoopProgram):
    """The operations of one training iteration over a net's blobs, and the buffers they
    name: scratch tensors of the program's own, and live addresses (parameters, their diffs
    and history, blobs read as they are) resolved again at each call."""

    # nothing here refers back to the solver or to the program itself (a getter holds what
    # it reads, the solver weakly): the solver keeps its programs, and a cycle would keep
    # the nets and their open data files until the collector runs, where Caffe releases them
    # with their last reference
    def __init__(self, solver, store):
        super().__init__(solver)
        self.store = store
        self.scratch_tensors = []
        self.data = {}             # blob -> buffer index of its value in the forward
        self.shape = {}            # blob -> shape
        self.diff = {}             # blob -> buffer index of its diff written in the backward
        self.losses = []           # (buffer index, loss weight) in forward order
        self.checks = []           # (primitive, shape) to compare with torch

    def scratch(self, count):
        t = torch.empty(max(1, int(count)), dtype=torch.float32)
        self.scratch_tensors.append(t)
        self.ptrs.append(t.data_ptr())
        return len(self.ptrs) - 1

    def live_ptr(self, getter, count=None):
        """A buffer read as it is at each call: ``getter()`` gives its tensor or array, of
        at least ``count`` values (None: the size it has now)."""
        if count is None:
            t = getter()
            count = 0 if t is None else (t.size if isinstance(t, np.ndarray) else t.numel())
        return super().live_ptr(getter, count)

    def check(self, kind, shape):
        self.checks.append((kind, tuple(shape)))

    def top_diff(self, name):
        """The diff of ``name`` as the backward reads it: the one written earlier in this
        backward, else the blob's own diff tensor (zeros, or the loss weight)."""
        if name in self.diff:
            return self.diff[name]
        store = self.store
        return self.live_ptr(lambda: store.diff_of(name))


def address(t):
    """The address of a float32 C-contiguous CPU tensor or array, or None."""
    if isinstance(t, np.ndarray):
        return array_address(t)
    if t is None or not t.is_cpu or t.dtype != torch.float32 or not t.is_contiguous():
        return None
    return t.data_ptr()


def param(module, j):
    """Learnable blob ``j`` of ``module`` (as it is when called)."""
    return module.blobs[j]
