"""The way a dnn Net's last torch-free forward took, taken again by the next forward while
nothing it was chosen on has changed (docs/engines.md, "Where engines are used").

A forward decides before its runtime runs: the layers' output blobs, that the blobs set fit,
backend, target and device, OpenCV's thread count, the plan and session of these shapes. After
a runtime's forward these decisions run on caches it has just used (about 70 µs of a forward's
Python on the 2-core machine: docs/benchmarks.md). :class:`Route` keeps them and checks what
each read; where any differs the forward takes the full way, which makes a new route.
``$CAFFE_COMPAT_ENGINE`` is read once, when the net is read (:func:`engine_asked`)."""
from __future__ import annotations

import collections
import os
import time

from . import opencv_threads

ENGINE_ENV = "CAFFE_COMPAT_ENGINE"


def engine_asked():
    """``$CAFFE_COMPAT_ENGINE`` (``"auto"`` where unset), read when a net is read."""
    return os.environ.get(ENGINE_ENV, "auto")


class Route:
    """The last torch-free forward of ``net`` for layers ``layer_ids``: its input ``shapes``
    and ``taken``, the ``(key, (plan, session))`` of
    :attr:`caffe_compat.onnx_path.TorchFreeNet.last`."""

    __slots__ = ("ids", "inputs", "shapes", "wanted", "torch_free", "key", "entry", "state",
                 "fit", "timings")

    def __init__(self, net, layer_ids, shapes, taken):
        self.ids = tuple(layer_ids)
        self.inputs, self.shapes = tuple(net._inputs), tuple(shapes)
        self.torch_free = net._torch_free
        self.key, self.entry = taken
        self.wanted = self.key[1]
        self.state = (net._backend, net._target, net._device,
                      net.__dict__.get("_opencv_threads"))
        self.fit = net.__dict__.get("_fed_fit")
        self.timings = collections.Counter()      # (no layer timings on this path)

    def forward(self, net, layer_ids):
        """``{blob: array}`` of the route's outputs for the blobs set now, or None where the
        forward is to take the full way (module doc)."""
        fed = net._fed
        if self.ids != tuple(layer_ids) or net._torch_free is not self.torch_free:
            return None
        for name, shape in zip(self.inputs, self.shapes):
            x = fed.get(name)
            if x is None or x.shape != shape:
                return None
        if (net._backend, net._target, net._device, opencv_threads.follow()) != self.state \
                or net.__dict__.get("_fed_fit") is not self.fit:
            return None
        start = time.perf_counter_ns()
        got = self.torch_free.run_again(self.key, self.entry, fed)
        if got is None:
            return None
        net._total = time.perf_counter_ns() - start
        net._timings = self.timings
        self.torch_free.forwards += 1
        return dict(zip(self.wanted, got))
