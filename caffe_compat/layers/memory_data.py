"""MemoryData: batches cut from arrays held in memory (Caffe's MemoryDataLayer).

Tops: data (``batch_size`` x ``channels`` x ``height`` x ``width`` from ``memory_data_param``,
all four required and positive) and label. Arrays are given with :meth:`Net.set_input_arrays`
(pycaffe's call, with pycaffe's checks: float32, C-contiguous, data N x C x H x W, labels N or
N x 1 x 1 x 1, the same N, a multiple of ``batch_size``) or with :meth:`MemoryData.reset`
(Caffe's ``Reset(data, labels, n)``). Each forward yields the next ``batch_size`` items in order
and wraps to the first after the last. The arrays are read at each forward, as Caffe reads
them (a change to the arrays shows in the next batches). Caffe points its tops at the arrays'
memory; here each batch is copied into the tops, which the net keeps as its own memory
(pycaffe's ``.data`` views stay valid across forwards), so the given arrays are never written:
a write to ``net.blobs['data'].data`` changes the blob, not the caller's array. A forward
before any arrays is an error.

Caffe applies ``transform_param`` only to data added as Datum or cv::Mat vectors
(AddDatumVector / AddMatVector, which pycaffe does not expose); arrays given through Reset or
set_input_arrays are used as they are, with a warning when the layer has a ``transform_param``,
as Caffe logs one. The label top has shape (``batch_size``,) at set-up and
(``batch_size``, 1, 1, 1) after a forward, as in Caffe.
"""
import warnings

import numpy as np
import torch

from ..errors import NetError
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "MemoryData", "MemoryDataParameter", {"batch_size", "channels", "height", "width"})


class ArrayCheckError(NetError, RuntimeError):
    """Arrays that ``set_input_arrays`` refuses: a RuntimeError as well, as pycaffe's C++
    checks throw ``std::runtime_error``."""


@register_layer("MemoryData")
class MemoryData(Layer):
    exact_bottoms = 0
    exact_tops = 2
    is_data = True

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None):
        super().__init__(param, bottom_shapes, phase)
        mp = param.memory_data_param
        self.batch_size = int(mp.batch_size)
        self.channels, self.height, self.width = int(mp.channels), int(mp.height), int(mp.width)
        if min(self.batch_size, self.channels, self.height, self.width) <= 0:
            self.fail("batch_size, channels, height and width must be specified and positive "
                      f"in memory_data_param (got {self.batch_size}, {self.channels}, "
                      f"{self.height}, {self.width})")
        self._data = self._labels = None
        self._n = self._pos = 0

    def top_shapes(self, bottom_shapes):
        return [(self.batch_size, self.channels, self.height, self.width), (self.batch_size,)]

    # ------------------------------------------------------------------ feeding
    def set_input_arrays(self, data, labels):
        """pycaffe's ``Net.set_input_arrays`` for this layer, with pycaffe's checks (an
        :class:`ArrayCheckError` where pycaffe raises RuntimeError)."""
        try:
            self._set_input_arrays(data, labels)
        except NetError as e:
            raise ArrayCheckError(str(e)) from None

    def _set_input_arrays(self, data, labels):
        labels = np.asarray(labels)
        if labels.ndim == 1:   # pycaffe's Python wrapper adds the three unit axes
            labels = np.ascontiguousarray(labels[:, None, None, None])
        for what, arr, dims in (("data array", data, (self.channels, self.height, self.width)),
                                ("labels array", labels, (1, 1, 1))):
            if not isinstance(arr, np.ndarray):
                self.fail(f"the {what} must be a numpy array, got {type(arr).__name__}")
            hint = "; convert it with np.ascontiguousarray(a, dtype=np.float32)"
            if not arr.flags.c_contiguous:
                self.fail(f"the {what} must be C contiguous{hint}")
            if arr.ndim != 4:
                self.fail(f"the {what} must be 4-d (N x {' x '.join(map(str, dims))}), got "
                          f"shape {arr.shape}")
            if arr.dtype != np.float32:
                self.fail(f"the {what} must be float32, got {arr.dtype}{hint}")
            for axis, (name, want) in enumerate(zip(("channels", "height", "width"), dims), 1):
                if arr.shape[axis] != want:
                    self.fail(f"the {what} has the wrong {name}: shape {arr.shape}, the layer "
                              f"wants N x {' x '.join(map(str, dims))}")
        if data.shape[0] != labels.shape[0]:
            self.fail(f"data and labels must have the same first dimension, got {data.shape[0]} "
                      f"and {labels.shape[0]}")
        if data.shape[0] % self.batch_size:
            self.fail(f"the first dimension of the input arrays ({data.shape[0]}) must be a "
                      f"multiple of the batch size ({self.batch_size})")
        self.reset(data, labels, data.shape[0])

    def reset(self, data, labels, n):
        """Caffe's ``Reset(data, labels, n)``: use the first ``n`` items of ``data`` (values in
        N x C x H x W order) and ``labels``; ``n`` must be a multiple of ``batch_size``."""
        n = int(n)
        if n <= 0 or n % self.batch_size:
            self.fail(f"n ({n}) must be a positive multiple of the batch size "
                      f"({self.batch_size})")
        size = self.channels * self.height * self.width
        data_t, label_t = torch.as_tensor(data), torch.as_tensor(labels)
        if data_t.numel() < n * size:
            self.fail(f"the data holds {data_t.numel()} values, {n} items of {self.channels} x "
                      f"{self.height} x {self.width} need {n * size}")
        if label_t.numel() < n:
            self.fail(f"the labels hold {label_t.numel()} values, {n} items need {n}")
        if self.param.HasField("transform_param"):
            warnings.warn(f"layer '{self.name}' (MemoryData) does not transform array data on "
                          "reset/set_input_arrays (transform_param applies only to Datum or "
                          "image vectors, as in Caffe)", stacklevel=3)
        self._data = data_t.reshape(-1)[:n * size].reshape(n, self.channels, self.height,
                                                          self.width)
        self._labels = label_t.reshape(-1)[:n]
        self._n = n
        self._pos = 0

    def set_batch_size(self, new_size):
        """Caffe's ``set_batch_size``: later batches have ``new_size`` items."""
        if int(new_size) <= 0:
            self.fail(f"batch size must be positive, got {new_size}")
        self.batch_size = int(new_size)

    def forward(self):
        if self._data is None:
            self.fail("no data: MemoryData needs arrays first (Net.set_input_arrays(data, "
                      "labels) or the layer's reset(data, labels, n))")
        b, pos = self.batch_size, self._pos
        if pos + b > self._n:
            self.fail(f"the batch at item {pos} of size {b} runs past the {self._n} items given "
                      "(the batch size was changed after the arrays were set)")
        # copies: the net stores later batches into the tops' memory (stepwise._put), which
        # must not be the caller's arrays
        data = self._data[pos:pos + b].clone()
        labels = self._labels[pos:pos + b].reshape(b, 1, 1, 1).clone()
        self._pos = (pos + b) % self._n
        return data, labels
