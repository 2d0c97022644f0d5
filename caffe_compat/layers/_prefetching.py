"""The base of Caffe's prefetching data layers (BasePrefetchingDataLayer): Data, ImageData,
WindowData.

A subclass sets itself up in ``__init__`` (reading what Caffe's DataLayerSetUp reads, so a
missing source or a bad first record fails while the net is built), draws its seeds from the
net's Caffe stream with :meth:`setup_draws` in Caffe's order, and implements
``make_batches()``: a generator of ``(data, label)`` numpy batches. The generator runs in a
background thread (:class:`caffe_compat.data.prefetch.Prefetcher`) with ``prefetch`` batches
queued ahead; ``forward()`` hands out the next one.
"""
from __future__ import annotations

import torch

from ..data.caffe_random import CaffeRandom, data_layer_setup_draws
from ..data.prefetch import Prefetcher
from ..data.transformer import DataTransformer
from ..errors import CaffeCompatError, DataError
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
        self._prefetcher = None

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
    def make_batches(self):
        raise NotImplementedError

    def _guarded_batches(self):
        try:
            yield from self.make_batches()
        except CaffeCompatError:
            raise
        except Exception as e:  # noqa: BLE001 - unexpected: name the layer
            raise DataError(f"layer '{self.name}' (type {self.type_name}): reading data "
                            f"failed: {type(e).__name__}: {e}") from e

    def next_batch(self):
        """The next (data, label) numpy batch, in Caffe's order."""
        if self._prefetcher is None:
            self._prefetcher = Prefetcher(self._guarded_batches, self.prefetch_depth,
                                          name=f"{self.type_name} '{self.name}' prefetch")
        try:
            return self._prefetcher.next()
        except StopIteration:
            raise DataError(f"layer '{self.name}': the data source is exhausted") from None

    def forward(self):
        data, label = self.next_batch()
        if self.output_labels:
            return torch.from_numpy(data), torch.from_numpy(label)
        return torch.from_numpy(data)

    def close(self):
        """Stop the prefetch thread."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_prefetcher"] = None       # threads do not copy
        return state
