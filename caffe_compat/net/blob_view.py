"""A named blob as pycaffe and Python layers see it (:class:`BlobView`), over whichever store
holds the net's blobs: the torch engine's :class:`~caffe_compat.net.stepwise.Stepwise` or the
array engine's :class:`~caffe_compat.array_net.ArrayNet`. A store gives ``blob_data(name)`` and
``blob_diff(name)`` (numpy arrays aliasing its memory), ``blob_shape(name)`` and
``reshape_blob(name, shape)``; a view follows its store when the net moves to another one."""
from __future__ import annotations

import math

from ..errors import NetError


class BlobDims:
    """Blob's ``count`` and ``num``, ``channels``, ``height``, ``width`` of ``self.shape``
    (Caffe's LegacyShape: 1 past the last axis; more than 4 axes refused)."""

    __slots__ = ()
    count = property(lambda self: int(math.prod(self.shape)))

    def _axis(self, i):
        shape = self.shape
        if len(shape) > 4:
            raise NetError(f"{self!r}: num/channels/height/width need at most 4 axes")
        return (shape + (1,) * (4 - len(shape)))[i]

    num = property(lambda self: self._axis(0))
    channels = property(lambda self: self._axis(1))
    height = property(lambda self: self._axis(2))
    width = property(lambda self: self._axis(3))


class BlobView(BlobDims):
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

    def reshape(self, *shape):
        """New storage of ``shape`` (views taken before no longer alias the blob)."""
        self._store.reshape_blob(self._name, shape)

    def __repr__(self):
        return f"Blob({self._name!r}, shape={self.shape})"


class BlobVec:
    """pycaffe's ``caffe._caffe.BlobVec``, a layer's parameter blobs (``net.params[name]``,
    ``layer.blobs``, a Python layer's ``self.blobs``): index, iterate, ``len``, ``add_blob``,
    assign; of a torch module (``blob(module, k)`` its k-th) or of a list (the array engine's)."""

    def __init__(self, module, blobs=None, blob=None):
        self._module, self._blobs, self._blob = module, blobs, blob

    def __setitem__(self, i, blob):
        """``blobs[i] = other``: shares ``other``'s memory from now on (Caffe's shared_ptr)."""
        if self._module is None:
            raise NetError("assign through net.layers[i].blobs (the array engine's are arrays)")
        self._module.set_blob(range(len(self))[i], blob._param)

    def add_blob(self, *shape):
        m = self._module
        m.add_blob(f"blob{len(m._blob_order)}", shape)
        return self[len(self) - 1]

    def __len__(self):
        return len(self._module._blob_order if self._blobs is None else self._blobs)

    def __getitem__(self, i):
        if self._blobs is not None:
            return self._blobs[i]
        if isinstance(i, slice):
            return [self._blob(self._module, k) for k in range(len(self))[i]]
        return self._blob(self._module, range(len(self))[i])

    def __iter__(self):
        return (self[k] for k in range(len(self)))
