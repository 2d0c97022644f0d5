"""reproduction.predict: per-frame valence of a video, faces from a box file or the face
detector."""
import csv
import math

import av
import numpy as np
import pytest
import torch

import caffe_compat
import lq_models
from matlab_ports import avec
from matlab_ports.errors import PortFileError
from matlab_ports.imresize import imresize
from matlab_ports.run_eval import video_to_blob
from reproduction.predict import (BoxTable, NoFaceError, crop_face, decode_frames, degrade,
                                  luma, main, predict_video)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from reproduction.sample import make_sample
    return make_sample(tmp_path_factory.mktemp("sample"), n_train=0, n_dev=1, n_frames=20,
                       progress=False)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "cnnd.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=4).save(path)
    return path


@pytest.fixture(scope="module")
def box_result(sample, weights):
    files = sample["files"]["dev_1"]
    return predict_video(files["video"], weights, boxes=files["bbox"], batch=8, progress=False)


def test_crop_follows_prepare_dataset():
    y = (np.arange(60 * 80) % 251).astype(np.uint8).reshape(60, 80)
    img = y.astype(np.float32) / np.float32(255)
    # box reaching over the left and bottom edges: ceil, then clamp to the frame
    box = (-3.4, 20.2, 30.5, 50.0)
    top, left, bot, right = 21, 1, 60, 27          # ceil(20.2), 1, min(ceil(69.2), 60), ceil(26.1)
    want = imresize(img[top - 1:bot, left - 1:right], output_size=(96, 96), method="bicubic")
    got = crop_face(y, box)
    assert got.dtype == np.float32 and np.array_equal(got, want)   # same MATLAB-exact code path
    assert crop_face(y, (100, 100, 20, 20)) is None                # outside the frame
    small = degrade(want, 4)
    assert small.shape == (96, 96)
    assert np.array_equal(small, imresize(imresize(want, scale=0.25), output_size=(96, 96)))


def test_predict_with_box_file(sample, weights, box_result, tmp_path):
    files = sample["files"]["dev_1"]
    res = box_result
    bbox, btime = avec.read_bbox_mat(files["bbox"])
    assert len(res.frames) == 20
    for fr, box in zip(res.frames, bbox):
        usable = box.sum() != 0 and box[2] > 100 and box[3] > 100
        assert fr.face == usable and (math.isnan(fr.valence) != usable)
        assert fr.box == tuple(box)
    assert 0 < res.n_faces < 20          # the sample has frames without a face
    # a face frame's valence is the net's output for that crop, fed transposed
    k = next(i for i, f in enumerate(res.frames) if f.face)
    rgb = next(frame for n, _, frame in decode_frames(files["video"]) if n == k + 1)
    face = crop_face(luma(rgb), bbox[k])
    net = lq_models.load_net(weights)
    with torch.no_grad():
        v = float(net.forward(data=torch.from_numpy(video_to_blob(face)))["fc5"])
    # batch of 8 vs batch of 1: float32 GEMM blocking may change the last bits
    assert res.frames[k].valence == pytest.approx(v, rel=1e-5, abs=1e-7)

    out = tmp_path / "out"
    assert main(["--video", files["video"], "--weights", str(weights), "--boxes",
                 files["bbox"], "--downsample", "4", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "dev_1_valence.csv")))
    assert len(rows) == 20
    assert [r["face"] for r in rows] == ["yes" if f.face else "no" for f in res.frames]
    assert all((r["valence"] == "") == (r["face"] == "no") for r in rows)
    assert (out / "dev_1_valence.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_with_csv_boxes(sample, weights, box_result, tmp_path):
    files = sample["files"]["dev_1"]
    # the same boxes as a CSV (time;x;y;w;h) give the same predictions
    bbox, btime = avec.read_bbox_mat(files["bbox"])
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("time;x;y;w;h\n" + "".join(
        ";".join(repr(float(v)) for v in (t, *b)) + "\n" for t, b in zip(btime, bbox)))
    a = predict_video(files["video"], weights, boxes=str(boxes), batch=8, progress=False)
    # same boxes, same crops, same batches: bit-identical
    assert np.array_equal(a.valence, box_result.valence, equal_nan=True)


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    from tests.face_video import astronaut_frames, write_video
    return write_video(tmp_path_factory.mktemp("face") / "astronaut.mp4",
                       astronaut_frames(6, blank=(4,)))


def test_predict_with_the_face_detector(face_video, weights, tmp_path):
    """No box table: the real MTCNN model finds the face of a real photograph in every frame
    that has one, on the installed OpenCV (4.x or 5.x)."""
    import cv2
    from tests.face_video import FACE_REGION
    res = predict_video(face_video, weights, batch=4, progress=False)
    print(f"\nOpenCV {cv2.__version__}: " + "; ".join(
        "-" if f.box is None else ",".join(f"{v:.0f}" for v in f.box) for f in res.frames))
    assert "MTCNN" in res.faces_from
    assert [f.face for f in res.frames] == [k != 4 for k in range(6)]
    assert res.frames[4].reason == "no face detected" and math.isnan(res.frames[4].valence)
    for f in res.frames:
        if f.face:
            x, y, w, h = f.box
            assert w > 100 and h > 100 and FACE_REGION[0] <= x - 1 and x - 1 + w <= \
                FACE_REGION[2] + 2 * f.frame and FACE_REGION[1] <= y - 1 <= y - 1 + h <= \
                FACE_REGION[3]
    # a face frame's valence is the net's output for the crop of the detected box
    k = 1
    rgb = next(frame for n, _, frame in decode_frames(face_video) if n == k + 1)
    face = crop_face(luma(rgb), res.frames[k].box)
    net = lq_models.load_net(weights)
    with torch.no_grad():
        v = float(net.forward(data=torch.from_numpy(video_to_blob(face)))["fc5"])
    # batch of 4 vs batch of 1: float32 GEMM blocking may change the last bits
    assert res.frames[k].valence == pytest.approx(v, rel=1e-5, abs=1e-7)
    assert main(["--video", str(face_video), "--weights", str(weights), "--out",
                 str(tmp_path), "--quiet"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "astronaut_valence.csv")))
    assert [r["face"] for r in rows] == ["yes"] * 4 + ["no", "yes"]


def _grey_video(path, n=6):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for _ in range(n):
            f = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 128, np.uint8), format="rgb24")
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_video_without_faces(tmp_path, weights, capsys):
    video = tmp_path / "grey.mp4"
    _grey_video(video)
    with pytest.raises(NoFaceError, match=r"grey\.mp4: no face in any of its 6 frames"):
        predict_video(video, weights, progress=False)
    out = tmp_path / "out"
    assert main(["--video", str(video), "--weights", str(weights), "--out", str(out),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no face in any of its 6 frames" in err and "Traceback" not in err
    assert not out.exists()                       # nothing written


def test_bad_inputs(tmp_path, weights, sample):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(PortFileError, match="junk.mp4: cannot open as a video"):
        predict_video(junk, weights, progress=False)
    with pytest.raises(PortFileError, match="no such video file"):
        list(decode_frames(tmp_path / "missing.mp4"))
    bad = tmp_path / "boxes.csv"
    bad.write_text("0;1;2;3\n")
    with pytest.raises(PortFileError, match=r"boxes\.csv:1: 4 fields, expected 5"):
        predict_video(sample["files"]["dev_1"]["video"], weights, boxes=str(bad),
                      progress=False)
    table = BoxTable([[1, 2, 3, 4], [5, 6, 7, 8]], [0.0, 0.04], "t", tolerance=0.02)
    assert table.lookup(0.039) == (5.0, 6.0, 7.0, 8.0) and table.lookup(0.5) is None
