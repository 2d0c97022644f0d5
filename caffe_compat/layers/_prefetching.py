"""The base of Caffe's prefetching data layers (BasePrefetchingDataLayer): Data, ImageData,
WindowData.

A subclass sets itself up in ``__init__`` (reading what Caffe's DataLayerSetUp reads, so a
missing source or a bad first record fails while the net is built), draws its seeds from the
net's Caffe stream with :meth:`make_transformer` in Caffe's order, and implements
``batch_source()``: an object whose ``batches()`` generates ``(data, label)`` numpy batches,
run in a
background thread (:class:`caffe_compat.data.prefetch.Prefetcher`) with ``prefetch`` batches
queued ahead; ``forward()`` hands out the next one. What it opens at set-up (a database) it
passes to :meth:`PrefetchingDataLayer.hold`: the thread and those are released by ``close()``
or as soon as the layer goes (no collector needed), as Caffe's destructors release them.
Where the net runs on a CUDA device, the thread also copies each batch onto it through pinned
memory on a side stream (:meth:`PrefetchingDataLayer.feed_to`,
:mod:`caffe_compat.data.device_feed`), as Caffe's prefetch thread pushes its batches to the GPU.
"""
from __future__ import annotations

import functools
import weakref

import torch

from ..data import device_feed
from ..data.caffe_random import CaffeRandom, data_layer_setup_draws
from ..data.prefetch import HeldReaders, Prefetcher, guarded_batches
from ..data.transformer import DataTransformer
from ..errors import DataError
from .base import Layer


class PrefetchingDataLayer(Layer):
    exact_bottoms = 0
    is_data = True
    # the net passes its Caffe random stream (caffe_rng=) to layers that set this
    uses_caffe_rng = True
    prefetch_depth = 4

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None, caffe_rng=None):
        super().__init__(param, bottom_shapes, phase)
        self.sources = dict(sources or {})
        self.caffe_rng = caffe_rng if caffe_rng is not None else CaffeRandom(None)
        self.output_labels = len(param.top) > 1
        self._held = HeldReaders()
        weakref.finalize(self, self._held.close)

    def hold(self, resource):
        """``resource`` (with ``close()``) is released with the layer; returns it."""
        self._held.closers.append(resource.close)
        return resource

    # ------------------------------------------------------------------ set-up helpers
    def source_path(self, configured):
        """The source of this layer: an override by layer name or by the configured path."""
        return self.sources.get(self.name, self.sources.get(configured, configured))

    def describe(self, source):
        return f"layer '{self.name}' (type {self.type_name}, source '{source}')"

    def make_transformer(self, transform_param, own_draws=(), where=""):
        """The layer's DataTransformer and the results of ``own_draws``, drawing seeds from the
        net's stream in Caffe's order (see data_layer_setup_draws)."""
        needs = DataTransformer.needs_rand(transform_param, self.phase)
        rng, results = data_layer_setup_draws(self.caffe_rng, transformer_needs_rand=needs,
                                              own_draws=own_draws)
        return DataTransformer(transform_param, self.phase, rng, where or self.name), results

    # ------------------------------------------------------------------ running
    def batch_source(self):
        """An object with ``batches()`` (a generator of (data, label) numpy batches) and
        ``close()``, holding everything it reads but not the layer: the prefetch thread keeps
        only it alive, so a layer nobody holds goes at once and its thread stops."""
        raise NotImplementedError

    def next_batch(self):
        """The next (data, label) numpy batch, in Caffe's order."""
        held = self._held
        if held.prefetcher is None:
            held.source = self.batch_source()
            label = f"layer '{self.name}' (type {self.type_name})"
            held.prefetcher = Prefetcher(functools.partial(guarded_batches, held.source, label),
                                         self.prefetch_depth,
                                         name=f"{self.type_name} '{self.name}' prefetch")
            if held.feed is not None:
                held.prefetcher.set_stage(functools.partial(_stage_batch, *held.feed))
        try:
            return held.prefetcher.next()
        except StopIteration:
            raise DataError(f"layer '{self.name}': the data source is exhausted") from None

    def feed_to(self, device, dtype):
        """Batches made from now on are copied onto CUDA ``device`` (as ``dtype``) in the
        prefetch thread (the net calls this on its first forward there)."""
        held = self._held
        if held.feed != (device, dtype):
            held.feed = (device, dtype)
            if held.prefetcher is not None:
                held.prefetcher.set_stage(functools.partial(_stage_batch, device, dtype))

    def forward(self):
        batch = self.next_batch()
        if isinstance(batch, device_feed.Staged):
            data, label = batch.take()
            return (data, label) if self.output_labels else data
        data, label = batch
        if self.output_labels:
            return torch.from_numpy(data), torch.from_numpy(label)
        return torch.from_numpy(data)

    def close(self):
        """Stop the prefetch thread and close what the layer reads."""
        self._held.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_held"] = HeldReaders()          # threads and open readers do not copy
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        weakref.finalize(self, self._held.close)


def _stage_batch(device, dtype, batch):
    """A (data, label) batch on its way to ``device`` (the prefetch thread's stage)."""
    return device_feed.stage(batch, device, dtype)
