"""Port of the original ``matlabscripts/prepare_dataset.m``: 96x96 face crops of the AVEC 2016
(RECOLA) videos with their valence, one ``.mat`` file per sequence.

    python -m matlab_ports.prepare_dataset --avec DIR --out DIR [--sequences train_1,dev_1,...]
        [--bbox-dir DIR | --boxes-csv DIR | --detect-faces] [--gold mat|arff] [--gsd-dir DIR]
        [--factor S] [--video-class double|single] [--force]

Inputs, in the AVEC 2016 layout under ``--avec``: ``recordings_video/<seq>.mp4``,
``recordings_video_frame_time/<seq>.csv`` (read as ``dlmread(f, ';', 1, 0)``; column 2 is the
frame time), the face boxes ``data/bbox/<seq>.mat`` (``bbox`` N x 4 [left-top x, left-top y,
width, height], ``time``) and the gold standard ``data/gsd/<seq>.mat`` (``gsd``, ``time``).

Per CSV row, in order, as the script does it:

1. the row's time must equal (``==``, no tolerance) one ``time`` of the box file and one of the
   gold standard; otherwise the script stops (``No matched bbox or gsd!``) and so does this port,
   naming the sequence, frame and time;
2. the next frame is decoded (every row consumes one frame, used or not);
3. the frame is kept when its box is non-zero (``sum(bbox) ~= 0``) and wider and taller than
   100 pixels; then ``Y = rgb2ycbcr(frame)(:,:,1)`` (uint8), ``single(Y)/255``, the crop rows
   ``ceil(y):ceil(y+h-1)``, columns ``ceil(x):ceil(x+w-1)`` clamped to the frame (1-based),
   ``imresize(crop, [96 96], 'bicubic')``; with ``--factor s``, the script's commented
   "CHANGE HERE" line for the low-quality sets: ``imresize(imresize(crop96, 1/s, 'bicubic'),
   [96 96], 'bicubic')``;
4. the crop, the gold-standard value and the time are appended.

``<out>/<seq>.mat`` then holds ``video`` (96 x 96 x N), ``valence`` (1 x N) and ``video_time``
(1 x N) as MATLAB's ``save`` (v7) writes them. The script allocates ``video = zeros(96,96,1)``,
a double array, and MATLAB converts what is assigned into it to double: ``video`` is double
holding single-rounded values (``video_class='single'`` stores the same values as single, half
the size). With no frame kept the script's initial zeros are saved: ``video`` 96 x 96 zeros,
``valence`` 0, ``video_time`` 0.

Deliberate differences and additions:

* frames are decoded by FFmpeg (PyAV, RGB24), not MATLAB's VideoReader, whose RGB output
  cannot be reproduced bit for bit; everything after decoding is;
* the number of decoded frames must equal the number of CSV rows (the script silently ignores
  surplus frames and fails only when the video is shorter);
* every row's time is matched before decoding starts, so a bad table fails fast. Where MATLAB
  would stop with an error, so does the port, with the sequence, frame and time: a time found
  twice among the boxes (``&&`` on a matrix), twice in the gold standard at a kept frame (the
  assignment to ``valence(count)``), a kept box that leaves nothing of the frame (empty or NaN
  indices);
* the crop's Y is computed on the box's pixels only, bit-identical to ``rgb2ycbcr`` on the
  whole frame (tested) and several times faster;
* the gold standard may come from the AVEC ARFF file (``gold='arff'``, times from its
  ``frameTime`` column), the boxes from CSV files ``<seq>.csv`` with rows ``time;x;y;w;h``
  (``boxes_csv``) or, with no box file at all, from the MTCNN face detector of
  :mod:`matlab_ports.face_detector` (``detect_faces``; the largest face of each frame, on
  OpenCV 4 and 5 alike). **The detector is a departure from the paper's protocol** (it used
  the boxes distributed with AVEC 2016);
* a sequence whose ``.mat`` exists is skipped unless ``force``; outputs are written atomically,
  so an interrupted run leaves no partial file and a rerun completes the rest;
* ``.mat`` v7 (MATLAB's default, compressed) costs more time than the crops themselves;
  ``mat_version='6'`` writes the same variables uncompressed, about twice as fast overall.

The face-crop helpers (:func:`luma`, :func:`crop_face`, :func:`degrade`,
:class:`~matlab_ports.face_detector.FaceDetector`) live in :mod:`matlab_ports.face_crop` and
:mod:`matlab_ports.face_detector`, shared with :mod:`reproduction.predict`.
"""
from __future__ import annotations

import math
import os
import sys
import time as _time
from dataclasses import dataclass, field

import numpy as np

from .errors import PortError, PortFileError
# the face crop, shared with reproduction.predict
from .face_crop import (IM_SIZE, MIN_FACE, _crop, _single_over_255, bicubic_resize,
                        box_status, crop_bounds, crop_face, crop_face_rgb, degrade, luma)
from .face_detector import FaceDetector
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["SCRIPT_SEQUENCES", "IM_SIZE", "MIN_FACE", "crop_bounds", "luma", "bicubic_resize",
           "crop_face", "crop_face_rgb", "degrade", "box_status", "FaceDetector",
           "SequenceReport", "SequenceInputs", "sequence_inputs", "prepare_sequence",
           "prepare_dataset", "main"]

SCRIPT_SEQUENCES = tuple([f"train_{k}" for k in range(1, 10)] +
                         [f"dev_{k}" for k in range(1, 10)])     # the script's file_name list


# --------------------------------------------------------------------------------------------
# Inputs of one sequence


@dataclass
class SequenceInputs:
    """Where one sequence's files are; ``boxes`` is a path or None (face detector)."""
    name: str
    video: str
    frame_time: str
    gold: str
    gold_format: str        # 'mat' or 'arff'
    boxes: str | None
    boxes_format: str       # 'mat', 'csv' or 'detect'

    def files(self):
        return [p for p in (self.video, self.frame_time, self.boxes, self.gold) if p]


def sequence_inputs(avec, name, bbox_dir=None, gsd_dir=None, gold="mat", arff_dir=None,
                    boxes_csv=None, detect_faces=False):
    """The input paths of sequence ``name`` (see :func:`prepare_dataset` for the options)."""
    avec = os.fspath(avec)
    if detect_faces:
        boxes, fmt = None, "detect"
    elif boxes_csv is not None:
        boxes, fmt = os.path.join(os.fspath(boxes_csv), name + ".csv"), "csv"
    else:
        folder = os.fspath(bbox_dir) if bbox_dir is not None else \
            os.path.join(avec, "data", "bbox")
        boxes, fmt = os.path.join(folder, name + ".mat"), "mat"
    if gold == "arff":
        folder = os.fspath(arff_dir) if arff_dir is not None else \
            os.path.join(avec, "ratings_gold_standard", "valence")
        gold_path = os.path.join(folder, name + ".arff")
    else:
        folder = os.fspath(gsd_dir) if gsd_dir is not None else os.path.join(avec, "data", "gsd")
        gold_path = os.path.join(folder, name + ".mat")
    return SequenceInputs(name, os.path.join(avec, "recordings_video", name + ".mp4"),
                          os.path.join(avec, "recordings_video_frame_time", name + ".csv"),
                          gold_path, gold, boxes, fmt)


def _time_index(times):
    """time -> list of 0-based rows with exactly that time (``find(times == t)``)."""
    index = {}
    for k, t in enumerate(np.asarray(times, dtype=np.float64).tolist()):
        index.setdefault(t, []).append(k)
    return index


def _read_tables(inp):
    """(frame times, bbox or None, bbox times or None, gold values, gold times)."""
    from . import avec as avec_io
    ft = avec_io.read_frame_times(inp.frame_time)
    if ft.shape[0] and ft.shape[1] < 2:
        raise PortFileError(f"{inp.frame_time}: {ft.shape[1]} column(s); expected "
                            "frameIndex;frameTime rows (the script reads the time from "
                            "column 2)")
    times = ft[:, 1].copy() if ft.shape[0] else np.zeros(0)
    bbox = bbox_times = None
    if inp.boxes_format == "mat":
        bbox, bbox_times = avec_io.read_bbox_mat(inp.boxes)
    elif inp.boxes_format == "csv":
        bbox, bbox_times = avec_io.read_bbox_csv(inp.boxes)
    if inp.gold_format == "arff":
        gold_times, gold = avec_io.read_gold_standard_arff(inp.gold)
    else:
        gold, gold_times = avec_io.read_gsd_mat(inp.gold)
    return times, bbox, bbox_times, gold, gold_times


def _where(inp, i, t):
    return (f"sequence {inp.name}, frame {i + 1} (row {i + 1} of {inp.frame_time}), "
            f"time {float(t)!r}")


def _match_rows(inp, times, bbox, bbox_times, gold_times):
    """Per row: (box or None for the detector, status or None, gold rows); errors as the
    script's, raised for the first row that has one."""
    gold_index = _time_index(gold_times)
    box_index = _time_index(bbox_times) if bbox is not None else None
    plan = []
    for i, t in enumerate(times.tolist()):
        g = gold_index.get(t, ())
        b = box_index.get(t, ()) if box_index is not None else (None,)
        if not b or not g:
            lacking = [(what, path) for what, hit, path in
                       (("face box", b, inp.boxes), ("gold-standard value", g, inp.gold))
                       if not hit]
            raise PortFileError(f"{_where(inp, i, t)}: no "
                                + " and no ".join(f"{what} in {path}" for what, path in lacking)
                                + " has exactly this time; the script requires an exact match "
                                "('No matched bbox or gsd!')")
        if len(b) > 1:
            raise PortFileError(f"{_where(inp, i, t)}: {len(b)} face boxes have this time in "
                                f"{inp.boxes} (rows {', '.join(str(k + 1) for k in b)}); "
                                "expected one (MATLAB's && fails on the matrix of boxes)")
        if b[0] is None:
            box, status = None, None
        else:
            box = tuple(float(v) for v in bbox[b[0]])
            status = box_status(box)
        if len(g) > 1 and status == "kept":
            raise PortFileError(f"{_where(inp, i, t)}: {len(g)} gold-standard values have "
                                f"this time in {inp.gold} (rows "
                                f"{', '.join(str(k + 1) for k in g)}); expected one "
                                "(MATLAB cannot assign them to one valence)")
        plan.append((box, status, g))
    return plan


# --------------------------------------------------------------------------------------------
# One sequence


@dataclass
class SequenceReport:
    """What happened to one sequence."""
    name: str
    out: str
    skipped: bool = False
    frames: int = 0             # CSV rows = decoded frames
    kept: int = 0               # frames saved
    zero_boxes: int = 0         # sum(box) == 0 (with the detector: no face found)
    small_boxes: int = 0        # non-zero box not wider and taller than 100 px
    video_shape: tuple = ()
    video_class: str = "double"
    seconds: float = math.nan
    timings: dict = field(default_factory=dict)     # decode / crop / resize / detect / save

    @property
    def frames_per_second(self):
        return self.frames / self.seconds if self.seconds else math.nan


def _open_video(path):
    import av
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise PortFileError(f"{path}: cannot open as a video ({e})") from None
    if not container.streams.video:
        container.close()
        raise PortFileError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"         # frame threads: same frames, faster
    return container, stream


def _frames(container, stream, path):
    import av
    k = 0
    try:
        for frame in container.decode(stream):
            k += 1
            yield frame
    except av.error.FFmpegError as e:
        raise PortFileError(f"{path}: cannot decode frame {k + 1} ({e})") from None


def prepare_sequence(inp, out_path, factor=None, video_class="double", mat_version="7",
                     size=IM_SIZE, progress=True):
    """Process one sequence (``inp``: :class:`SequenceInputs`) and save ``out_path``; returns
    :class:`SequenceReport`. Options as :func:`prepare_dataset`."""
    from tqdm import tqdm

    from .matfile import savemat

    start = _time.perf_counter()
    report = SequenceReport(inp.name, out_path, video_class=video_class)
    times, bbox, bbox_times, gold, gold_times = _read_tables(inp)
    plan = _match_rows(inp, times, bbox, bbox_times, gold_times)
    rows = len(plan)
    dtype = np.float64 if video_class == "double" else np.float32
    # column-major, so that video[:, :, :n] is contiguous; pages are touched only when written
    video = np.zeros((size, size, max(rows, 1)), dtype=dtype, order="F")
    valence = np.zeros(max(rows, 1))
    video_time = np.zeros(max(rows, 1))
    detector = FaceDetector(min_face=MIN_FACE) if inp.boxes_format == "detect" else None
    tm = dict.fromkeys(("decode", "crop", "resize", "detect"), 0.0)
    clock = _time.perf_counter
    n = 0
    container, stream = _open_video(inp.video)
    with container, tqdm(total=rows, desc=inp.name, unit="frame", disable=not progress,
                         leave=False) as bar:
        frames = _frames(container, stream, inp.video)
        for i, (box, status, g) in enumerate(plan):
            t0 = clock()
            frame = next(frames, None)
            tm["decode"] += clock() - t0
            if frame is None:
                raise PortFileError(f"{inp.video}: {i} decoded frames, but {inp.frame_time} "
                                    f"has {rows} rows; expected one frame per row (sequence "
                                    f"{inp.name}, frame {i + 1}, time {float(times[i])!r})")
            if detector is not None:
                t0 = clock()
                rgb = frame.to_ndarray(format="rgb24")
                y = luma(rgb)
                box = detector(rgb)
                status = "zero" if box is None else box_status(box)
                tm["detect"] += clock() - t0
                if status == "kept" and len(g) > 1:
                    raise PortFileError(f"{_where(inp, i, times[i])}: {len(g)} gold-standard "
                                        f"values have this time in {inp.gold}; expected one "
                                        "(MATLAB cannot assign them to one valence)")
            if status == "zero":
                report.zero_boxes += 1
            elif status == "small":
                report.small_boxes += 1
            else:
                t0 = clock()
                if detector is None:
                    rgb = frame.to_ndarray(format="rgb24")
                bounds = crop_bounds(box, rgb.shape[0], rgb.shape[1])
                if bounds is None:
                    raise PortFileError(f"{_where(inp, i, times[i])}: box {box} leaves nothing "
                                        f"of the {rgb.shape[1]} x {rgb.shape[0]} frame (or "
                                        "has a NaN corner); expected a box overlapping the "
                                        "frame (MATLAB stops with an indexing error)")
                # temp = single(Y)/255, cropped (Y of the box only: rgb2ycbcr is per pixel)
                patch = _single_over_255(_crop(y, bounds) if detector is not None
                                         else luma(_crop(rgb, bounds)))
                t1 = clock()
                tm["crop"] += t1 - t0
                face = bicubic_resize(patch, output_size=(size, size))
                if factor is not None:
                    face = degrade(face, factor)
                video[:, :, n] = face
                valence[n] = gold[g[0]]
                video_time[n] = times[i]
                n += 1
                tm["resize"] += clock() - t1
            bar.update(1)
        surplus = sum(1 for _ in frames)
        if surplus:
            raise PortFileError(f"{inp.video}: {rows + surplus} decoded frames, but "
                                f"{inp.frame_time} has {rows} rows; expected one frame per row "
                                f"(sequence {inp.name})")
    report.frames, report.kept = rows, n
    t0 = clock()
    # MATLAB's size: trailing singleton dimensions do not exist (one frame is 96x96)
    if n == 0:
        out_video = np.zeros((size, size), dtype)           # the script's initial zeros
        values, stamps = np.zeros((1, 1)), np.zeros((1, 1))
    else:
        out_video = video[:, :, :n] if n > 1 else video[:, :, 0]
        values, stamps = valence[:n].reshape(1, n), video_time[:n].reshape(1, n)
    savemat(out_path, {"video": out_video, "valence": values, "video_time": stamps},
            version=mat_version)
    tm["save"] = clock() - t0
    report.video_shape = out_video.shape
    report.timings = tm
    report.seconds = clock() - start
    return report


# --------------------------------------------------------------------------------------------
# The script


def _sequence_list(sequences, avec):
    if sequences is None:
        folder = os.path.join(os.fspath(avec), "recordings_video")
        names = [s for s in SCRIPT_SEQUENCES if os.path.isfile(os.path.join(folder, s + ".mp4"))]
        if not names:
            raise PortFileError(f"{folder}: none of the script's sequences ({SCRIPT_SEQUENCES[0]}"
                                f"..{SCRIPT_SEQUENCES[-1]}) has a video <seq>.mp4 here; "
                                "expected the AVEC 2016 layout under --avec")
        return names
    if isinstance(sequences, str):
        sequences = [s for s in (p.strip() for p in sequences.split(",")) if s]
    names = [str(s) for s in sequences]
    if not names:
        raise PortError("sequences: expected at least one sequence name")
    for s in names:
        if not s or s in (".", "..") or "/" in s or os.sep in s or \
                (os.altsep and os.altsep in s):
            raise PortError(f"sequences: {s!r} is not a sequence name (expected e.g. train_1)")
    if len(set(names)) != len(names):
        raise PortError(f"sequences: a name is repeated in {names}")
    return names


def _check_options(factor, video_class, gold, mat_version, size, detect_faces, boxes_csv,
                   bbox_dir, gsd_dir, arff_dir):
    if factor is not None:
        try:
            f = float(factor)
        except (TypeError, ValueError):
            raise PortError(f"factor: expected a positive number, got {factor!r}") from None
        if not (math.isfinite(f) and f > 0):
            raise PortError(f"factor: expected a positive finite number, got {factor!r}")
    if video_class not in ("double", "single"):
        raise PortError(f"video_class: expected 'double' (as the script saves) or 'single', "
                        f"got {video_class!r}")
    if gold not in ("mat", "arff"):
        raise PortError(f"gold: expected 'mat' (data/gsd/<seq>.mat) or 'arff' "
                        f"(ratings_gold_standard/valence/<seq>.arff), got {gold!r}")
    if mat_version not in ("6", "7", "7.3"):
        raise PortError(f"mat_version: expected '6', '7' or '7.3', got {mat_version!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise PortError(f"size: expected a positive integer, got {size!r}")
    if detect_faces and boxes_csv is not None:
        raise PortError("detect_faces, boxes_csv: give a box source or the detector, not both")
    if bbox_dir is not None and (detect_faces or boxes_csv is not None):
        raise PortError("bbox_dir: not used with boxes_csv or detect_faces; give one box source")
    if gold == "arff" and gsd_dir is not None:
        raise PortError("gsd_dir: not used with gold='arff' (the ARFF folder is arff_dir)")
    if gold == "mat" and arff_dir is not None:
        raise PortError("arff_dir: only used with gold='arff'")


def prepare_dataset(avec, out, sequences=None, bbox_dir=None, gsd_dir=None, gold="mat",
                    arff_dir=None, boxes_csv=None, detect_faces=False, factor=None,
                    video_class="double", mat_version="7", size=IM_SIZE, force=False,
                    progress=True, on_report=None):
    """prepare_dataset.m: write ``<out>/<seq>.mat`` for each sequence; returns a list of
    :class:`SequenceReport` (skipped ones included).

    ``avec``: the AVEC 2016 root; ``sequences``: names (list or comma-separated), by default
    the script's 18 (train_1..9, dev_1..9) that have a video; ``bbox_dir``/``gsd_dir``: the
    folders of ``<seq>.mat`` boxes and gold standard (default ``<avec>/data/bbox``,
    ``<avec>/data/gsd``); ``gold='arff'`` reads ``<arff_dir>/<seq>.arff`` instead (default
    ``<avec>/ratings_gold_standard/valence``); ``boxes_csv``: a folder of ``<seq>.csv`` boxes
    (``time;x;y;w;h``); ``detect_faces``: the MTCNN face detector instead of box files (not the
    paper's protocol); ``factor``: the low-quality degradation ``s``; ``video_class``: 'double'
    (as the script) or 'single'; ``mat_version``: '7' (MATLAB's default), '6' or '7.3';
    ``size``: imSize; ``force``: redo sequences whose ``.mat`` exists; ``on_report``: called
    with each :class:`SequenceReport` as soon as the sequence is done or skipped.
    """
    _check_options(factor, video_class, gold, mat_version, size, detect_faces, boxes_csv,
                   bbox_dir, gsd_dir, arff_dir)
    if factor is not None and float(factor).is_integer():
        factor = int(factor)
    avec = os.fspath(avec)
    out = os.fspath(out)
    if not os.path.isdir(avec):
        raise PortFileError(f"{avec}: AVEC 2016 folder not found")
    names = _sequence_list(sequences, avec)
    todo, reports = [], {}
    for name in names:
        path = os.path.join(out, name + ".mat")
        if os.path.exists(path) and not force:
            reports[name] = SequenceReport(name, path, skipped=True)
            if on_report is not None:
                on_report(reports[name])
            continue
        inp = sequence_inputs(avec, name, bbox_dir, gsd_dir, gold, arff_dir, boxes_csv,
                              detect_faces)
        for f in inp.files():
            if not os.path.isfile(f):
                raise PortFileError(f"{f}: file not found (sequence {name})")
        todo.append((inp, path))
    os.makedirs(out, exist_ok=True)
    for inp, path in todo:
        reports[inp.name] = prepare_sequence(inp, path, factor, video_class, mat_version, size,
                                             progress)
        if on_report is not None:
            on_report(reports[inp.name])
    return [reports[n] for n in names]


def _print_report(r):
    if r.skipped:
        print(f"{r.name}: skipped, {r.out} exists (use --force to redo)", flush=True)
        return
    shape = "x".join(str(v) for v in r.video_shape)
    print(f"{r.name}: {r.frames} frames, {r.kept} kept ({r.zero_boxes} zero boxes, "
          f"{r.small_boxes} boxes not larger than {MIN_FACE} px) -> {r.out} (video {shape} "
          f"{r.video_class}, valence and video_time 1x{max(r.kept, 1)}), "
          f"{r.frames_per_second:.0f} frames/s", flush=True)


def main(argv=None):
    """Command line; returns the exit status (1 on bad input, with the reason on stderr)."""
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m matlab_ports.prepare_dataset",
        description="prepare_dataset.m: 96x96 face crops (Y channel, bicubic) of the AVEC 2016 "
                    "videos with their valence, saved per sequence as <out>/<seq>.mat "
                    "(video, valence, video_time) as the script saves them.")
    parser.add_argument("--avec", required=True, help="AVEC 2016 folder (recordings_video/, "
                        "recordings_video_frame_time/, ...)")
    parser.add_argument("--out", required=True, help="output folder for <seq>.mat")
    parser.add_argument("--sequences", default=None, help="comma-separated names (default: "
                        "the script's train_1..9, dev_1..9 that have a video)")
    parser.add_argument("--bbox-dir", default=None, help="folder of <seq>.mat face boxes "
                        "(bbox, time; default AVEC/data/bbox)")
    parser.add_argument("--gsd-dir", default=None, help="folder of <seq>.mat gold standard "
                        "(gsd, time; default AVEC/data/gsd)")
    parser.add_argument("--gold", choices=("mat", "arff"), default="mat",
                        help="gold standard from the .mat files (default, as the script) or "
                             "from ratings_gold_standard/valence/<seq>.arff")
    parser.add_argument("--arff-dir", default=None, help="folder of <seq>.arff for --gold arff "
                        "(default AVEC/ratings_gold_standard/valence)")
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument("--boxes-csv", default=None, metavar="DIR",
                       help="folder of <seq>.csv face boxes, rows time;x;y;w;h")
    boxes.add_argument("--detect-faces", action="store_true",
                       help="no box files: the MTCNN face detector (a departure from the "
                            "paper's protocol, which used the AVEC boxes)")
    parser.add_argument("--factor", type=float, default=None, metavar="S",
                        help="low-quality data: shrink each 96x96 face by 1/S and bring it back "
                             "(bicubic), the script's commented CHANGE HERE line")
    parser.add_argument("--video-class", choices=("double", "single"), default="double",
                        help="class of the saved video (default double, as the script; single "
                             "holds the same values in half the space)")
    parser.add_argument("--mat-version", choices=("6", "7", "7.3"), default="7",
                        help="MAT-file version (default 7, MATLAB's save default)")
    parser.add_argument("--size", type=int, default=IM_SIZE, help="crop side (imSize, 96)")
    parser.add_argument("--force", action="store_true",
                        help="redo sequences whose .mat already exists (default: skip them)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    start = _time.perf_counter()
    try:
        reports = prepare_dataset(args.avec, args.out, args.sequences, args.bbox_dir,
                                  args.gsd_dir, args.gold, args.arff_dir, args.boxes_csv,
                                  args.detect_faces, args.factor, args.video_class,
                                  args.mat_version, args.size, args.force,
                                  progress=bars_wanted(args.quiet), on_report=_print_report)
    except PortError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    done = [r for r in reports if not r.skipped]
    frames = sum(r.frames for r in done)
    print(f"wrote {len(done)} of {len(reports)} sequences to {args.out} ({frames} frames, "
          f"{sum(r.kept for r in done)} faces) in {_time.perf_counter() - start:.1f} s"
          + (" (faces from the MTCNN detector, not the paper's protocol)"
             if args.detect_faces else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
