"""An inference plan's forward replayed as a captured device graph where input shapes repeat.

On a CUDA device a plan's forward at a small batch is bound by the host: each layer's kernels
are launched from Python one by one (ResNet-50: a few hundred launches), and the device waits
for them. A CUDA graph records the launches of one forward once and replays them in one call.
:class:`GraphedRun` wraps a plan's :class:`~caffe_compat.inference.fast_run.CompiledRun`:

- the first forward of an input signature (each fed blob's shape, dtype and device, and the
  autocast setting) runs as usual; the second one captures the forward (one warm-up forward on
  a side stream, then the capture), and every later one copies the inputs into the graph's
  input buffers, replays it, and returns copies of its outputs (a caller may keep what a
  forward returned: the next replay writes the graph's own buffers, not those);
- a graph is replayed only while every weight of the net is as it was at the capture (the
  same tensor, and :func:`caffe_compat.layers.base.weights_key`: its storage, torch's count of
  in-place writes and the numpy views handed out); a written or replaced weight drops the
  graphs, and the next forwards fold the new weights and capture again;
- at most :data:`MAX_GRAPHS` signatures are kept per plan (the least recently used goes, and
  with it its graph's memory pool): repeated shapes are what pays;
- a forward that cannot be captured (a layer that reads values back to the host, as
  DetectionOutput's NMS does) runs as usual for that signature from then on, after one
  ``GraphCaptureWarning`` naming the error.

The replayed forward is the captured one's kernels on the same buffers, so its outputs are the
forward's bit for bit (a kernel whose algorithm depends on run-time choices was chosen at the
warm-up: the captured call is the one replayed). ``CAFFE_COMPAT_DEVICE_GRAPHS=0`` turns it off,
``net.device_graphs = False`` for one net.
:data:`CAPTURE` maps a device type to the class that captures on it; the tests add a CPU
stand-in with the same contract (:class:`StandInGraph`) to check the rule without a GPU."""
from __future__ import annotations

import collections
import os
import warnings
import weakref

import torch

from ..layers.base import weights_key

ENABLED = os.environ.get("CAFFE_COMPAT_DEVICE_GRAPHS", "1") != "0"
# input signatures whose graphs a plan keeps (least recently used dropped first)
MAX_GRAPHS = 4


class GraphCaptureWarning(UserWarning):
    """A forward could not be captured as a device graph; it runs uncaptured."""


class DeviceGraph:
    """A forward captured as a CUDA graph (torch.cuda.CUDAGraph) on static input buffers."""

    def __init__(self, run, inputs):
        device = next(iter(inputs.values())).device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):       # lazy state (handles, workspaces) made here
            run(inputs)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # "thread_local": another thread's CUDA work (a data layer's prefetch, the program's
        # own) does not break this capture
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.outputs = run(inputs)[0]

    def replay(self):
        self.graph.replay()


class StandInGraph:
    """The contract of :class:`DeviceGraph` on any device, for tests: the capture runs the
    forward once on the static inputs; a replay runs it again and writes the results into the
    tensors the capture returned (as a graph's replay rewrites its own buffers)."""

    def __init__(self, run, inputs):
        self._run, self._inputs = run, inputs
        self.outputs = run(inputs)[0]
        self.replays = 0

    def replay(self):
        for name, value in self._run(self._inputs)[0].items():
            self.outputs[name].copy_(value)
        self.replays += 1


CAPTURE = {"cuda": DeviceGraph}


# one signature's graph, its input buffers and the weights' keys at its capture
_Captured = collections.namedtuple("_Captured", ("graph", "inputs", "keys"))


class GraphedRun:
    """A compiled run whose forwards are replayed as device graphs (module doc); called as the
    run is, with the fed inputs, returning ``(values, {}, None)``."""

    def __init__(self, run, net, capture):
        self.run, self._capture = run, capture
        self._net = weakref.ref(net)                # (the plan lives on the net)
        self._layers = [net.layers[key] for _, key, _, _ in net._nodes if net.layers[key].blobs]
        self.graphs = collections.OrderedDict()     # signature -> _Captured
        self.seen = set()                           # signatures run once, not captured yet
        self.refused = set()                        # signatures that could not be captured

    def _keys(self):
        """Each weight's identity and :func:`weights_key`, read from the layers now (a blob
        replaced by another tensor, as ``load_state_dict(assign=True)`` or weight sharing
        does, counts as written)."""
        return tuple((id(t), weights_key(t)) for layer in self._layers for t in layer.blobs)

    def __call__(self, inputs):
        net = self._net()
        if net is None or not net.device_graphs or not inputs:
            return self.run(inputs)
        signature = _signature(inputs)
        if signature in self.refused:
            return self.run(inputs)
        keys = self._keys()
        captured = self.graphs.get(signature)
        if captured is not None and captured.keys != keys:
            self.graphs.clear()                     # a weight was written: capture again
            self.seen.clear()
            captured = None
        if captured is not None:
            self.graphs.move_to_end(signature)
            for name, buffer in captured.inputs.items():
                buffer.copy_(inputs[name])
            captured.graph.replay()
            return {n: t.clone() for n, t in captured.graph.outputs.items()}, {}, None
        if signature not in self.seen:              # the first forward of this signature
            self.seen.add(signature)
            return self.run(inputs)
        return self._capture_and_run(signature, inputs)

    def _capture_and_run(self, signature, inputs):
        buffers = {name: t.clone() for name, t in inputs.items()}
        try:
            graph = self._capture(self.run, buffers)
        except Exception as exc:                    # noqa: BLE001 - any failure: run uncaptured
            self.refused.add(signature)
            self.seen.discard(signature)
            warnings.warn(f"the forward at input shapes "
                          f"{ {n: tuple(t.shape) for n, t in inputs.items()} } runs without a "
                          f"device graph: capturing it failed ({type(exc).__name__}: {exc})",
                          GraphCaptureWarning, stacklevel=4)
            return self.run(inputs)
        # the keys after the capture: its warm-up may have folded weights written before it
        self.graphs[signature] = _Captured(graph, buffers, self._keys())
        while len(self.graphs) > MAX_GRAPHS:
            self.graphs.popitem(last=False)
        self.seen.discard(signature)
        return {n: t.clone() for n, t in graph.outputs.items()}, {}, None


def _signature(inputs):
    first = next(iter(inputs.values()), None)
    device = first.device.type if first is not None else "cpu"
    autocast = torch.is_autocast_enabled(device) if device in ("cuda", "cpu") else False
    dtype = torch.get_autocast_dtype(device) if autocast and \
        hasattr(torch, "get_autocast_dtype") else None
    return (tuple((name, tuple(t.shape), t.dtype, t.device) for name, t in inputs.items()),
            autocast, dtype)


def wrap(net, run, keep):
    """``run`` as a :class:`GraphedRun` where the net's forwards may be captured on its device
    (an output-only forward, on a device type of :data:`CAPTURE`), else ``run`` itself."""
    if run is None or keep is None or not ENABLED:
        return run
    capture = CAPTURE.get(net._ref.device.type)
    return run if capture is None else GraphedRun(run, net, capture)
