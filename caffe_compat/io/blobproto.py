"""Read a single BlobProto from a binary ``.binaryproto`` file (Caffe's ReadProtoFromBinaryFile +
Blob::FromProto), as Caffe's tools write means and matrices."""
import os

from google.protobuf.message import DecodeError

from caffe_compat.errors import WeightsError
from caffe_compat.io.caffemodel import blob_to_array, read_binary_file
from caffe_compat.proto import caffe_pb2


def read_blobproto(path):
    """The array (float32, or float64 from ``double_data``) of the BlobProto in ``path``, with
    Caffe's shape rule (legacy num/channels/height/width if set, else ``shape.dim``)."""
    path = os.fspath(path)
    data = read_binary_file(path, what="binaryproto")
    blob = caffe_pb2.BlobProto()
    try:
        blob.ParseFromString(data)
    except DecodeError as exc:
        raise WeightsError(f"{path}: not a binary BlobProto (.binaryproto): {exc}") from None
    return blob_to_array(blob, where=path)
