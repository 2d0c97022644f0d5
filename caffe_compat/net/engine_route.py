"""The way a ``caffe_compat.Net``'s last engine forward took, taken again by the next while
nothing it was chosen on has changed (docs/engines.md, "Where engines are used").

An engine forward decides before its engine runs: the net float32 on the CPU, the inputs the
net's, the runner of its outputs, no weight written since the export, the feed, the thread
count and the session of these shapes. :class:`EngineRoute` keeps them and checks what each
read (an input given as a tensor takes the full way, which converts it); where any differs the
forward takes the full way, which makes a new route."""
from __future__ import annotations

import collections

import numpy as np
import torch

from ..kernels import blas_order
from . import write_count

_FLOAT32 = np.dtype(np.float32)


class EngineRoute:
    """The last engine forward of a net: ``ref`` (its reference buffer), ``engine``, ``key``
    (the runner's key: the engine and the outputs, blob names in order), ``runner`` and
    ``feed`` (the arrays it was fed)."""

    __slots__ = ("ref", "engine", "key", "runner", "names", "shapes", "outputs")

    def __init__(self, ref, engine, key, runner, feed):
        self.ref, self.engine, self.key, self.runner = ref, engine, key, runner
        self.names = tuple((n, tuple(v.shape)) for n, v in feed.items())
        self.shapes = runner.shapes_of(feed)
        self.outputs = key[1]

    def forward(self, net, inputs):
        """The outputs (``{blob: tensor}``, in order) for ``inputs``, or None where the forward
        is to take the full way (module doc)."""
        ref = net._buffers["_ref"]
        if ref is not self.ref or ref.dtype is not torch.float32 or not ref.is_cpu or \
                blas_order.INFERENCE or net.engine != self.engine or \
                len(inputs) != len(self.names):
            return None
        for name, shape in self.names:
            x = inputs.get(name)
            if type(x) is not np.ndarray or x.shape != shape or x.dtype is not _FLOAT32 or \
                    not x.flags.c_contiguous:
                return None
        runner = self.runner
        if net._engine_runners.get(self.key) is not runner or \
                write_count.count(runner.weights) != runner.version:
            return None
        got = runner.run_again(self.shapes, inputs)
        if got is None:
            return None
        net.__dict__["loss"] = None           # (as Module.__setattr__ would keep it)
        return collections.OrderedDict(zip(self.outputs, (
            v if isinstance(v, torch.Tensor) else torch.from_numpy(v) for v in got)))
