"""One BlobProto: read from a binary ``.binaryproto`` file (Caffe's ReadProtoFromBinaryFile +
Blob::FromProto), as Caffe's tools write means and matrices; its shape, and whether it fits a
blob (Blob::ShapeEquals, as CopyTrainedLayersFrom checks it)."""
import os

from google.protobuf.message import DecodeError

from caffe_compat.errors import WeightsError
from caffe_compat.io.binary_file import read_binary_file
from caffe_compat.io.caffemodel import blob_to_array
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

def blob_proto_shape(bp):
    """A BlobProto's shape: its ``shape`` field, or the legacy (num, channels, height, width)."""
    if bp.HasField("shape"):
        return tuple(bp.shape.dim)
    return (bp.num, bp.channels, bp.height, bp.width)


def fit_blob_shape(arr, bp, target):
    """``arr`` (the values of BlobProto ``bp``) reshaped to ``target`` when Caffe's
    Blob::ShapeEquals accepts it, else None.

    Legacy blobs (num/channels/height/width) match a target of at most 4 axes aligned from the
    end, e.g. an InnerProduct weight (M, N) stored as 1 x 1 x M x N."""
    target = tuple(target)
    if tuple(arr.shape) == target:
        return arr
    legacy = not bp.HasField("shape") and any(
        bp.HasField(f) for f in ("num", "channels", "height", "width"))
    if legacy and len(target) <= 4:
        padded = (1,) * (4 - len(target)) + target
        if tuple(blob_proto_shape(bp)) == padded:
            return arr.reshape(target)
    return None


def layer_blob_arrays(src, values, where, shapes_of, at=lambda name: "", strict=False):
    """Caffe's CopyTrainedLayersFrom matching of a caffemodel's layers with a net's, for either
    engine: ``src`` the NetParameter read from ``where`` (``values`` its blobs' views, or None),
    ``shapes_of(name)`` the shapes of the net's parameter blobs of layer ``name`` (None for a
    layer the net lacks), ``at(name)`` a ``"file:line:column: "`` prefix for messages.

    Returns ``(matched, ignored, problems)``: ``[(layer name, [arrays fitted to the net's
    shapes])]`` for the layers whose every blob fits, the names of the file's layers the net
    lacks, and a message per blob count or shape that does not fit (and, with ``strict``, per
    layer with blobs the net lacks), in the file's order."""
    matched, ignored, problems = [], [], []
    for i, lp in enumerate(src.layer):
        target = shapes_of(lp.name)
        if target is None:
            ignored.append(lp.name)
            if strict and len(lp.blobs):
                problems.append(f"unexpected layer '{lp.name}' ({len(lp.blobs)} blob(s)) is "
                                "not in the net")
            continue
        if len(lp.blobs) != len(target):
            problems.append(f"{at(lp.name)}layer '{lp.name}': the file has "
                            f"{len(lp.blobs)} blob(s), the net expects {len(target)}")
            continue
        arrays = []
        for j, (bp, shape) in enumerate(zip(lp.blobs, target)):
            arr = blob_to_array(bp, where=f"{where}: layer '{lp.name}' blob {j}",
                                values=None if values is None else values[i][j])
            arr = fit_blob_shape(arr, bp, shape)
            if arr is None:
                problems.append(f"{at(lp.name)}layer '{lp.name}' blob {j}: shape mismatch, "
                                f"file has {blob_proto_shape(bp)}, net expects {tuple(shape)}")
            arrays.append(arr)
        if all(a is not None for a in arrays):
            matched.append((lp.name, arrays))
    return matched, ignored, problems
