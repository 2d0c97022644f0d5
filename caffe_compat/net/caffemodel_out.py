"""The caffemodel a net writes, for both engines (:class:`~caffe_compat.net.core.Net` and
:class:`~caffe_compat.array_net.ArrayNet`): Caffe's Net::ToProto with every parameter blob,
in Caffe's binary encoding, the blob values spliced in straight from the parameters' memory
(no protobuf copies). No torch here."""
from __future__ import annotations

import os

from ..io import blob_wire
from ..io import caffemodel as caffemodel_io


class CaffemodelOutMixin:
    """``save``, ``caffemodel_bytes`` and ``caffemodel_pieces`` of a net with ``name``,
    ``to_proto(with_blobs)`` and ``_blob_values()`` (per layer, ``[(array, float64?)]``)."""

    def save(self, path):
        """Write a caffemodel (atomic) that Caffe, pycaffe and OpenCV read, its pieces one
        after another."""
        from ..io.atomic import write_pieces_atomic
        write_pieces_atomic(os.fspath(path), self.caffemodel_pieces())

    def caffemodel_bytes(self):
        """The bytes :meth:`save` writes: :meth:`to_proto`'s encoding, the blob values
        spliced in straight from the parameters' memory (no protobuf copies)."""
        return b"".join(self.caffemodel_pieces())

    def caffemodel_pieces(self):
        """:meth:`caffemodel_bytes` as the pieces the file is written from (the values views
        of the parameters' memory; one piece where the net is encoded in full)."""
        head = caffemodel_io.caffemodel_bytes(self.to_proto(with_blobs=False))
        data = blob_wire.caffemodel_pieces_with_blobs(head, self._blob_values())
        if data is None:
            return [caffemodel_io.caffemodel_bytes(self.to_proto(with_blobs=True))]
        size = blob_wire.pieces_size(data)
        caffemodel_io.check_encoded_size(size, f"net '{self.name}'")
        return data
