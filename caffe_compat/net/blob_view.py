"""A named blob as pycaffe and Python layers see it (:class:`BlobView`), over whichever store
holds the net's blobs: the torch engine's :class:`~caffe_compat.net.stepwise.Stepwise` or the
array engine's :class:`~caffe_compat.array_net.ArrayNet`. A store gives ``blob_data(name)`` and
``blob_diff(name)`` (numpy arrays aliasing its memory), ``blob_shape(name)`` and
``reshape_blob(name, shape)``; a view follows its store when the net moves to another one."""
from __future__ import annotations

import math

from ..errors import NetError


class BlobView:
    """A named blob of a store: ``data`` and ``diff`` are numpy views of its memory;
    ``reshape(*shape)`` gives it new storage."""

    __slots__ = ("_store", "_name")

    def __init__(self, store, name):
        self._store = store
        self._name = name

    @property
    def data(self):
        return self._store.blob_data(self._name)

    @property
    def diff(self):
        return self._store.blob_diff(self._name)

    @property
    def shape(self):
        return tuple(self._store.blob_shape(self._name))

    @property
    def count(self):
        return int(math.prod(self.shape))

    def _axis(self, i):
        shape = self.shape
        if len(shape) > 4:
            raise NetError(f"blob '{self._name}': num/channels/height/width need at most 4 "
                           f"axes, shape is {shape}")
        return (shape + (1,) * (4 - len(shape)))[i]

    num = property(lambda self: self._axis(0))
    channels = property(lambda self: self._axis(1))
    height = property(lambda self: self._axis(2))
    width = property(lambda self: self._axis(3))

    def reshape(self, *shape):
        """New storage of ``shape`` (views taken before no longer alias the blob)."""
        self._store.reshape_blob(self._name, shape)

    def __repr__(self):
        return f"Blob({self._name!r}, shape={self.shape})"
