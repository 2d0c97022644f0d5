"""The base of Caffe's prefetching data layers (BasePrefetchingDataLayer): Data, ImageData,
WindowData.

A subclass sets itself up in ``__init__`` (reading what Caffe's DataLayerSetUp reads, so a
missing source or a bad first record fails while the net is built), draws its seeds from the
net's Caffe stream with :meth:`make_transformer` in Caffe's order, and implements
``batch_source()``: an object whose ``batches()`` generates ``(data, label)`` numpy batches,
run in a
background thread (:class:`caffe_compat.data.prefetch.Prefetcher`) with ``prefetch`` batches
queued ahead; ``forward()`` hands out the next one.
"""
from __future__ import annotations

import functools

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
        self._source = None

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
        only it alive, so a layer nobody holds is collected and its thread stops."""
        raise NotImplementedError

    def next_batch(self):
        """The next (data, label) numpy batch, in Caffe's order."""
        if self._prefetcher is None:
            self._source = self.batch_source()
            label = f"layer '{self.name}' (type {self.type_name})"
            self._prefetcher = Prefetcher(functools.partial(_guarded, self._source, label),
                                          self.prefetch_depth,
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
        """Stop the prefetch thread and close what the layer reads."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None
        source = getattr(self, "_source", None)
        if source is not None:
            source.close()

    def __del__(self):
        # no join here: the thread stops at its next step and closes its source itself
        prefetcher = getattr(self, "_prefetcher", None)
        if prefetcher is not None:
            prefetcher.stop()
        elif getattr(self, "_source", None) is None:
            try:
                self.close_unstarted()
            except Exception:
                pass

    def close_unstarted(self):
        """Release what was opened at set-up when no thread was started."""

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_prefetcher"] = None       # threads do not copy
        state["_source"] = None
        return state


def _guarded(source, label):
    """``source.batches()`` with unexpected errors named after the layer; closes the source
    when the generator ends (in the prefetch thread)."""
    try:
        yield from source.batches()
    except CaffeCompatError:
        raise
    except Exception as e:  # noqa: BLE001 - unexpected: name the layer
        raise DataError(f"{label}: reading data failed: {type(e).__name__}: {e}") from e
    finally:
        source.close()
