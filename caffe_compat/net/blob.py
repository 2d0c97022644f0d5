"""The pycaffe-like views of a net's blobs and parameters: :class:`Blob` and
:class:`ParamSpecEntry`.

As in Caffe, an in-place chain of layers shares one blob: its ``data`` is the output of the
last layer that wrote it, its ``diff`` the gradient with respect to the first producer's
output. A learnable parameter keeps Caffe's per-parameter settings (``lr_mult``,
``decay_mult``) and its owner (the layer and index that created it; parameters shared by
ParamSpec name belong to the first layer that names them)."""
from __future__ import annotations

import torch

from ..errors import NetError
from .blob_view import BlobDims


class Blob(BlobDims):
    """A named blob after the last forward: ``data`` (last in-place version) and ``diff``.

    As in Caffe, an in-place chain shares one blob: ``data`` is the output of the last layer
    that wrote it, ``diff`` the gradient with respect to the first producer's output."""

    __slots__ = ("name", "shape", "_data", "_first", "_kept", "_dropped")

    def __init__(self, name, shape):
        self.name = name
        self.shape = tuple(shape)
        self._data = None
        self._first = None
        self._kept = False
        self._dropped = False

    def _set(self, data, first, kept, dropped=False):
        """The blob after a pass. ``dropped``: the pass computed a diff for it and kept none
        (the explicit training pass, :mod:`caffe_compat.net.train_plan`: as autograd's without
        ``keep_diffs``)."""
        self._data, self._first, self._kept, self._dropped = data, first, kept, dropped
        if kept and first is not None and first.requires_grad:
            first.retain_grad()
        if isinstance(data, list):
            self.shape = (sum(int(t.shape[0]) for t in data),) + tuple(data[0].shape[1:])
        elif data is not None:
            self.shape = tuple(data.shape)

    @property
    def data(self):
        if self._data is None:
            return torch.zeros(self.shape)
        if isinstance(self._data, list):  # a chunked forward: joined on first access
            self._data = torch.cat(self._data) if len(self._data) > 1 else self._data[0]
        return self._data

    @property
    def diff(self):
        t = self._first
        if self._dropped or (t is not None and t.requires_grad and not t.is_leaf
                             and not self._kept):
            raise NetError(f"blob '{self.name}': the diffs of computed blobs are kept only by a "
                           "net built with keep_diffs=True")
        if t is None or t.grad is None:
            ref = self._data if self._data is not None else torch.zeros(self.shape)
            return torch.zeros_like(ref)
        return t.grad

    def __repr__(self):
        return f"Blob({self.name!r}, shape={self.shape})"


class ParamSpecEntry:
    """A learnable parameter with Caffe's per-parameter settings (owner layer and index)."""

    __slots__ = ("param", "layer", "index", "lr_mult", "decay_mult")

    def __init__(self, param, layer, index, lr_mult, decay_mult):
        self.param = param
        self.layer = layer
        self.index = index
        self.lr_mult = lr_mult
        self.decay_mult = decay_mult

    def __repr__(self):
        return (f"ParamSpecEntry({self.layer}/{self.index}, lr_mult={self.lr_mult}, "
                f"decay_mult={self.decay_mult})")
