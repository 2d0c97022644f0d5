"""Batches onto a CUDA device without stalling the host: pinned memory and a side stream.

Caffe's BasePrefetchingDataLayer in GPU mode has its prefetch thread push each batch to the
device on a stream of its own (``async_gpu_push``), ``prefetch`` batches ahead of Forward;
HDF5Data and MemoryData copy their batch in Forward. Where a net runs on a CUDA device its
data tops go through :func:`to_device`:

- the batch is copied into pinned host memory, then onto the device on one side stream per
  device, ``non_blocking``, and an event recorded after the copy (:class:`Staged`);
- taken by the layer's forward (:meth:`Staged.take`): the compute stream waits for that event
  (on the device) and each tensor is marked as used on it (``record_stream``), so its memory
  is not reused before the compute stream is done with it.

The prefetching layers (Data, ImageData, WindowData: :mod:`caffe_compat.layers._prefetching`)
stage in their prefetch thread, so their ``prefetch`` batches wait on the device, as Caffe's;
the others (HDF5Data, MemoryData, a Python data layer: any layer without bottoms whose tops
are on the host) stage in forward (HDF5Data's read position stays the one a snapshot saves).
On the CPU nothing here runs."""
from __future__ import annotations

import threading

import numpy as np
import torch

_streams = {}
_lock = threading.Lock()


def side_stream(device):
    """The side stream of CUDA ``device`` that data copies run on (one per device)."""
    device = torch.device(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    with _lock:
        stream = _streams.get(index)
        if stream is None:
            stream = _streams[index] = torch.cuda.Stream(device=index)
    return stream


class Staged:
    """Tensors being copied onto a CUDA device on the side stream, with the event recorded
    after their copies."""

    __slots__ = ("tensors", "event", "device")

    def __init__(self, tensors, event, device):
        self.tensors = tensors
        self.event = event
        self.device = device

    def take(self):
        """The tensors, usable on the current stream: it waits for the copies (on the device)
        and each tensor is recorded as used by it."""
        current = torch.cuda.current_stream(self.device)
        current.wait_event(self.event)
        for t in self.tensors:
            t.record_stream(current)
        return self.tensors


def stage(values, device, dtype=None):
    """Start copying ``values`` (numpy arrays or CPU tensors) onto CUDA ``device`` (cast to
    ``dtype`` there, when given) through pinned memory on the side stream; a :class:`Staged`."""
    device = torch.device(device)
    pinned = [(torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray)
               else v).pin_memory() for v in values]
    stream = side_stream(device)
    with torch.cuda.stream(stream):
        out = [p.to(device=device, non_blocking=True) for p in pinned]
        if dtype is not None:
            out = [t if t.dtype == dtype else t.to(dtype) for t in out]
        event = torch.cuda.Event()
        event.record(stream)
    return Staged(out, event, device)


def data_tops(module, tops, ref):
    """A data layer's tops (a tuple of tensors) on the device and dtype of ``ref`` (the net's
    reference buffer), on a CUDA device: tops not there yet through :func:`stage`; a layer
    that can stage its batches ahead (``feed_to``) is asked to from now on."""
    feed_to = getattr(module, "feed_to", None)
    if feed_to is not None:
        feed_to(ref.device, ref.dtype)
    move = [i for i, t in enumerate(tops) if t.device != ref.device]
    out = list(tops)
    if move:
        for i, t in zip(move, stage([tops[i] for i in move], ref.device, ref.dtype).take()):
            out[i] = t
    return tuple(t if t.dtype == ref.dtype else t.to(ref.dtype) for t in out)
