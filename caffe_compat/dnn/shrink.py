"""``cv2.dnn.shrinkCaffeModel`` (OpenCV 4's ``dnn::shrinkCaffeModel``): a caffemodel whose
float32 blobs of the layers of the given types (by default Convolution and InnerProduct) are
stored in half precision, in the fields OpenCV's Caffe fork adds to BlobProto (``raw_data``
with ``raw_data_type: FLOAT16``): about half the file, read by OpenCV's importer and by this
package's readers, not by Caffe 1.0. Each value is rounded to the nearest float16, ties to
even, as OpenCV's ``convertFp16``; every other field is kept."""
from __future__ import annotations

import os

import numpy as np

from ..errors import WeightsError
from ..io.atomic import write_bytes_atomic

DEFAULT_TYPES = ("Convolution", "InnerProduct")


def shrinkCaffeModel(src, dst, layersTypes=()):
    """Write ``dst``: the caffemodel ``src`` with the blobs of the layers whose type is in
    ``layersTypes`` (default :data:`DEFAULT_TYPES`) in float16 (see the module doc)."""
    from ..proto import caffe_pb2
    from google.protobuf.message import DecodeError
    src, dst = os.fspath(src), os.fspath(dst)
    types = set(layersTypes) or set(DEFAULT_TYPES)
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError as e:
        raise WeightsError(f"{src}: cannot read the caffemodel: {e}") from None
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(data)
    except (DecodeError, ValueError) as e:
        raise WeightsError(f"{src}: not a caffemodel ({e})") from None
    for layer in net.layer:
        if layer.type not in types:
            continue
        for i, blob in enumerate(layer.blobs):
            if not len(blob.data):          # OpenCV asserts float32 values are there
                raise WeightsError(f"{src}: layer '{layer.name}' blob {i} holds no float32 "
                                   "values to shrink (shrinkCaffeModel takes a float32 "
                                   "caffemodel, as OpenCV's)")
            halves = np.asarray(blob.data, dtype=np.float32).astype("<f2")
            blob.ClearField("data")
            blob.raw_data = halves.tobytes()
            blob.raw_data_type = caffe_pb2.FLOAT16
    write_bytes_atomic(dst, net.SerializeToString())
