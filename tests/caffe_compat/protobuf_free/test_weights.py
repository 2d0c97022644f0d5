"""The light caffemodel reader against the protobuf reader: the same ``{layer name: arrays}``
(tolerance 0: the same float32 values, shapes and names, OpenCV's renaming of repeated names
included) wherever it answers, and no answer for the files the protobuf reader warns about,
refuses or reads specially. Corpus: every caffemodel of the tests, seeded caffemodels of the
public nets, and files changed to each special case."""
import glob
import os
import random

import numpy as np
import pytest

from caffe_compat import onnx_path as lite
from caffe_compat.dnn.importer import renamed_repeats
from caffe_compat.errors import CaffeCompatError
from caffe_compat.io.caffemodel import parse_caffemodel_values
from caffe_compat.io.protobuf_free import weights as light_weights
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.dnn import nets, zoo_nets

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _reference(data):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            net, values = parse_caffemodel_values(data)
        except (CaffeCompatError, Warning):
            return None
    return lite.weights_by_layer(renamed_repeats(net), values)


def _check(data):
    got = light_weights.read(data)
    if got is None:
        return False
    want = _reference(data)
    assert want is not None, "the light reader took a file the protobuf reader refuses"
    assert list(got) == list(want)
    for name in want:
        assert len(got[name]) == len(want[name])
        for g, w in zip(got[name], want[name]):
            assert g.dtype == np.float32 and g.shape == w.shape
            assert np.array_equal(g, w, equal_nan=True), name
    return True


def _files():
    return sorted(glob.glob(os.path.join(REPO, "tests", "**", "*.caffemodel"), recursive=True))


def _seeded():
    out = []
    for text, blobs in (zoo_nets.squeezenet11(), nets.res10_ssd(300)):
        out.append(nets.caffemodel_bytes(text, blobs, seed=0))
    return out


def test_every_caffemodel_of_the_tests_and_the_public_nets():
    answered, total = 0, 0
    for path in _files():
        with open(path, "rb") as f:
            answered += _check(f.read())
        total += 1
    for data in _seeded():
        assert _check(data)
    assert answered >= 0.8 * total


def _net(*layers):
    net = caffe_pb2.NetParameter(name="n")
    for name, kind, shapes in layers:
        lp = net.layer.add(name=name, type=kind)
        for k, shape in enumerate(shapes):
            blob = lp.blobs.add()
            blob.shape.dim.extend(shape)
            blob.data.extend(np.arange(np.prod(shape), dtype=np.float32) + k)
    return net


def test_repeated_names_are_numbered_as_opencv_matches_them():
    net = _net(("a", "Convolution", [(2, 1, 1, 1), (2,)]), ("b", "ReLU", []),
               ("a", "Convolution", [(3, 2, 1, 1)]))
    assert _check(net.SerializeToString())
    assert list(light_weights.read(net.SerializeToString())) == ["a", "a_1"]


def _changed(change):
    net = _net(("c", "Convolution", [(2, 1, 1, 1), (2,)]))
    change(net)
    return net.SerializeToString()


@pytest.mark.parametrize("case, change", [
    ("legacy layers", lambda n: n.layers.add(name="v1")),
    ("double values", lambda n: n.layer[0].blobs[0].double_data.extend([1.0, 2.0])),
    ("raw data", lambda n: setattr(n.layer[0].blobs[1], "raw_data", b"\0" * 8)),
    ("too few values", lambda n: n.layer[0].blobs[1].data.pop()),
    ("no layers", lambda n: n.ClearField("layer")),
    ("negative dimension", lambda n: n.layer[0].blobs[1].shape.dim.__setitem__(0, -2)),
])
def test_special_files_are_left_to_the_protobuf_reader(case, change):
    assert light_weights.read(_changed(change)) is None


def _varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def test_unknown_fields_and_opencvs_numbering_are_left_to_the_protobuf_reader():
    data = _changed(lambda n: None)
    assert light_weights.read(data) is not None
    # an unknown top-level field (1000, varint)
    assert light_weights.read(data + _varint(1000 << 3) + b"\x01") is None
    # an unknown field of a layer (200: SSD's annotated_data_param, a message)
    layer = caffe_pb2.LayerParameter(name="x", type="ReLU").SerializeToString()
    layer += _varint(200 << 3 | 2) + b"\x00"
    assert light_weights.read(data + _varint(100 << 3 | 2) + _varint(len(layer)) + layer) \
        is None
    # field 147 in a DetectionOutput layer: where OpenCV's fork writes its settings
    fork = caffe_pb2.NetParameter()
    fork.layer.add(name="d", type="DetectionOutput").swish_param.beta = 1.0
    assert light_weights.read(fork.SerializeToString()) is None


def test_seeded_damage_is_answered_as_the_protobuf_reader_does():
    """Bytes deleted, changed or cut at seeded places of a real caffemodel: either the same
    weights as the protobuf reader's, or left to it."""
    rng = random.Random(5)
    base = bytearray(_seeded()[0])
    for _ in range(150):
        b = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(b))
            how = rng.randrange(3)
            if how == 0:
                del b[k]
            elif how == 1:
                b[k] = rng.randrange(256)
            else:
                del b[k:]
        _check(bytes(b))


def test_dims_written_one_by_one_read_as_protobuf_joins_them():
    """BlobShape's dims are packed as Caffe writes them; a writer that puts them one by one
    (or mixes both) gives the same shape through both readers."""
    values = np.arange(24, dtype="<f4").tobytes()
    for dims in (b"\x08\x02\x08\x03\x08\x04", b"\x08\x02\x0a\x02\x03\x04"):  # unpacked; mixed
        blob = (_varint(7 << 3 | 2) + _varint(len(dims)) + dims +
                _varint(5 << 3 | 2) + _varint(len(values)) + values)
        layer = (caffe_pb2.LayerParameter(name="c", type="Convolution").SerializeToString() +
                 _varint(7 << 3 | 2) + _varint(len(blob)) + blob)
        data = _varint(100 << 3 | 2) + _varint(len(layer)) + layer
        assert _check(data)
        assert light_weights.read(data)["c"][0].shape == (2, 3, 4)
