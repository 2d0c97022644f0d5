"""``shrinkCaffeModel`` (``cv2.dnn.shrinkCaffeModel`` after ``install()``) against OpenCV
4.14's: the same bytes for MTCNN's caffemodels (fixtures/make_shrink_fixture.py recorded
OpenCV's), and the shrunk file reads back, by this package, as the float16 roundings of the
weights."""
import hashlib
import json
import os

import numpy as np
import pytest

from caffe_compat import WeightsError, dnn
from caffe_compat.io.caffemodel import layer_blobs, read_caffemodel
from tests.caffe_compat.dnn import api_nets
from tests.conftest import public_input

cv2 = pytest.importorskip("cv2")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
OPENCV = json.load(open(os.path.join(HERE, "shrink.json")))


@pytest.mark.parametrize("name", ["det1", "det3"])
def test_the_bytes_of_opencv4(tmp_path, name):
    src = os.path.join(public_input("models", "mtcnn"), f"{name}.caffemodel")
    dst = tmp_path / "small.caffemodel"
    dnn.shrinkCaffeModel(src, str(dst))
    data = dst.read_bytes()
    assert len(data) == OPENCV[name]["bytes"]
    assert hashlib.sha256(data).hexdigest() == OPENCV[name]["sha256"]


def test_reads_back_as_the_float16_roundings(tmp_path):
    text, model = api_nets.naming()
    (tmp_path / "n.prototxt").write_text(text)
    (tmp_path / "n.caffemodel").write_bytes(model)
    dnn.install()
    try:
        cv2.dnn.shrinkCaffeModel(str(tmp_path / "n.caffemodel"), str(tmp_path / "s.caffemodel"),
                                 ["Convolution"])
    finally:
        dnn.uninstall()
    full = layer_blobs(read_caffemodel(str(tmp_path / "n.caffemodel")))
    small = layer_blobs(read_caffemodel(str(tmp_path / "s.caffemodel")))
    assert [(n, t) for n, t, _ in full] == [(n, t) for n, t, _ in small]
    for (_, kind, blobs), (_, _, shrunk) in zip(full, small):
        assert len(blobs) == len(shrunk)
        for a, b in zip(blobs, shrunk):
            # only the Convolution layers (ConvolutionDepthwise, Deconvolution are other types)
            want = a.astype(np.float16).astype(np.float32) if kind == "Convolution" else a
            np.testing.assert_array_equal(b, want)
    net = dnn.readNetFromCaffe(str(tmp_path / "n.prototxt"), str(tmp_path / "s.caffemodel"))
    x = np.random.RandomState(0).rand(1, 3, 8, 8).astype(np.float32)
    net.setInput(x)
    half = net.forward("conv1_1")
    ref = dnn.readNetFromCaffe(str(tmp_path / "n.prototxt"), str(tmp_path / "n.caffemodel"))
    ref.setInput(x)
    # float16 weights: 2**-11 relative per weight, 27 products a value
    np.testing.assert_allclose(half, ref.forward("conv1_1"), rtol=0,
                               atol=27 * 2.0 ** -11 * float(np.abs(ref.forward("conv1_1")).max()))


def test_a_file_that_is_no_caffemodel(tmp_path):
    (tmp_path / "x.caffemodel").write_bytes(b"\xff\xff\xff")
    with pytest.raises(WeightsError, match="not a caffemodel"):
        dnn.shrinkCaffeModel(str(tmp_path / "x.caffemodel"), str(tmp_path / "y"))
    assert not (tmp_path / "y").exists()
