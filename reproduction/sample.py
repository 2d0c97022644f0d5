"""Bundled AVEC-like sample: a miniature AVEC 2016 tree with drawn faces of known valence.

:func:`make_sample` renders, for each sequence, a short H.264 video of a drawn face whose
expression (mouth curvature, brows, eye openness) follows a smooth valence signal, and writes the
files ``prepare_dataset.m`` reads, in the AVEC 2016 layout::

    recordings_video/<seq>.mp4                 H.264, yuv420p
    recordings_video_frame_time/<seq>.csv      frameIndex;frameTime
    ratings_gold_standard/valence/<seq>.arff   Instance_name, frameTime, GoldStandard
    data/bbox/<seq>.mat                        bbox (N x 4), time (N x 1)
    data/gsd/<seq>.mat                         gsd (N x 1), time (N x 1)
    README.txt

Nothing is downloaded; everything follows from the seed. Command line:
``python -m reproduction.sample --out DIR [--train 3 --dev 3 --frames 300 --seed 0]``.
"""
import argparse
import math
import os
import sys
import time as _time
from fractions import Fraction

import av
import cv2
import numpy as np
from tqdm import tqdm

from caffe_compat.io.atomic import atomic_path, write_text_atomic
from matlab_ports import avec
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["make_sample", "valence_signal", "main"]

CRF = 20                # moderate quality, as a webcam recording stored by a lab
PRESET = "veryfast"
_SHIFT = 4              # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT
_PARTS = ("train", "dev")

README = """\
AVEC-like sample data (generated, not real recordings)
======================================================

This folder is a miniature stand-in for the AVEC 2016 (RECOLA) emotion data, written by
`python -m reproduction.sample` (seed {seed}). Each sequence shows a drawn face on a textured
background; its expression (mouth curvature, brow angle and height, eye openness) follows a
smooth valence signal v(t) in [-1, 1], with the person's own gain, neutral face and small
mood swings, and the gold standard is v(t) at the frame times. Head motion, blinks, talking,
lighting drift, camera noise and H.264 compression are added, and each sequence has its own
face, skin tone and background. The face boxes in data/bbox come from the drawing, with a
few frames where no face was found (all zeros) and a few with a small box (< 100 px), which
prepare_dataset.m skips.

Sequences: {names}
Frames per sequence: {n_frames} at {fps} fps, {width} x {height} pixels.

recordings_video/<seq>.mp4                 H.264 (libx264, CRF {crf}, no B-frames), yuv420p
recordings_video_frame_time/<seq>.csv      header line, then frame;time rows (seconds)
ratings_gold_standard/valence/<seq>.arff   Instance_name, frameTime, GoldStandard
data/bbox/<seq>.mat                        bbox (N x 4: left-top x, left-top y, width, height),
                                           time (N x 1)
data/gsd/<seq>.mat                         gsd (N x 1), time (N x 1)

All times are the same doubles in every file, so they can be matched with ==.
"""


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------

def _sinusoids(rng, n_terms, shortest, longest):
    """Random slow sinusoids: (amplitudes, periods, phases), periods log-uniform in seconds."""
    periods = np.exp(rng.uniform(math.log(shortest), math.log(longest), n_terms))
    amplitudes = rng.uniform(0.4, 1.0, n_terms)
    phases = rng.uniform(0.0, 2.0 * math.pi, n_terms)
    return amplitudes, periods, phases


def _evaluate(params, t):
    """Sum of the sinusoids at times ``t``, scaled to unit standard deviation."""
    amplitudes, periods, phases = params
    s = np.sin(2.0 * math.pi * t[:, None] / periods + phases) @ amplitudes
    return s / math.sqrt(0.5 * float(amplitudes @ amplitudes))


def valence_signal(seed_sequence, t):
    """Valence v(t) in (-1, 1) at times ``t`` (s): a squashed sum of five slow sinusoids.

    ``seed_sequence`` (a ``numpy.random.SeedSequence``) fixes the periods (2.5-16 s), phases,
    amplitudes and offset; v does not depend on how many frames are sampled.
    """
    rng = np.random.default_rng(seed_sequence)
    params = _sinusoids(rng, 5, 2.5, 16.0)
    offset = rng.uniform(-0.25, 0.25)
    return np.tanh(0.9 * _evaluate(params, t) + offset)


def _blinks(rng, t, fps):
    """Eye-openness factor in (0, 1]: blinks at random times, about one every 3 s."""
    factor = np.ones(t.size)
    profile = np.array([0.65, 0.2, 0.08, 0.3, 0.7])
    onset = rng.exponential(3.0)
    duration = t[-1] if t.size else 0.0
    while onset <= duration:
        start = int(round(onset * fps))
        stop = min(start + profile.size, t.size)
        if start < t.size:
            factor[start:stop] = np.minimum(factor[start:stop], profile[:stop - start])
        onset += 0.6 + rng.exponential(2.6)
    return factor


def _talking(rng, t):
    """Mouth opening in [0, 1] from speech: syllables at 3-5 Hz in turns of a few seconds."""
    turns = np.clip(_evaluate(_sinusoids(rng, 3, 3.0, 12.0), t), 0.0, 1.0)
    rate = rng.uniform(3.0, 5.0)
    jitter = 0.6 * _evaluate(_sinusoids(rng, 3, 0.5, 2.0), t)
    syllables = 0.5 + 0.5 * np.sin(2.0 * math.pi * rate * t + jitter)
    return turns * syllables ** 1.5


# --------------------------------------------------------------------------------------------
# Identity and scene
# --------------------------------------------------------------------------------------------

def _identity(rng, width, height):
    """Per-sequence face, colours and framing."""
    light, dark = np.array([236.0, 204.0, 184.0]), np.array([112.0, 80.0, 62.0])
    skin = light + rng.uniform(0.0, 1.0) * (dark - light) + rng.normal(0.0, 5.0, 3)
    skin = 0.7 * skin + 0.3 * skin.mean()                    # grey-ish
    hair_palette = np.array([[32, 26, 22], [72, 52, 36], [122, 92, 62], [172, 150, 112],
                             [96, 94, 92]], float)
    iris_palette = np.array([[74, 48, 30], [62, 92, 122], [84, 102, 62], [44, 34, 28]], float)
    hair = hair_palette[rng.integers(len(hair_palette))] + rng.normal(0.0, 6.0, 3)
    side = rng.uniform(125.0, 165.0) * height / 240.0         # face box side in pixels
    return dict(
        skin=np.clip(skin, 0, 255), hair=np.clip(hair, 0, 255),
        brow=np.clip(0.8 * hair + rng.normal(0.0, 4.0, 3), 0, 255),
        iris=iris_palette[rng.integers(len(iris_palette))],
        lips=np.clip(skin * np.array([0.92, 0.74, 0.74]), 0, 255),
        clothes=rng.uniform(30.0, 220.0, 3),
        aspect=rng.uniform(1.2, 1.36), jaw=rng.uniform(0.1, 0.28),
        hairline=rng.uniform(0.5, 0.68), hair_volume=rng.uniform(1.02, 1.12),
        eye_x=rng.uniform(0.34, 0.41), eye_y=rng.uniform(-0.16, -0.06),
        eye_w=rng.uniform(0.16, 0.2), eye_open=rng.uniform(0.85, 1.1),
        brow_gap=rng.uniform(0.2, 0.27), brow_thick=rng.uniform(0.045, 0.07),
        mouth_w=rng.uniform(0.3, 0.38), mouth_y=rng.uniform(0.58, 0.68),
        gain=rng.uniform(0.7, 1.15), neutral=rng.uniform(-0.15, 0.15),
        # how much mouth, brows and eyes take part in the expression
        weights=(rng.uniform(0.75, 1.1), rng.uniform(0.4, 1.2), rng.uniform(0.3, 1.2)),
        scale=side / 2.05, cx=width * (0.5 + rng.uniform(-0.08, 0.08)),
        cy=height * rng.uniform(0.5, 0.56),
        noise=rng.uniform(2.0, 4.0),
    )


def _background(rng, width, height):
    """A static textured background (uint8 RGB): wall colour, soft blotches, a few objects."""
    base = rng.uniform(60.0, 200.0, 3)
    img = np.empty((height, width, 3), np.float32)
    img[:] = base
    for cell, amplitude in ((24, 18.0), (6, 7.0)):         # mostly grey blotches, a little tint
        small = rng.standard_normal((height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        small = 0.8 * small.mean(axis=2, keepdims=True) + 0.35 * small
        img += amplitude * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(3, 7)):
        x0, y0 = rng.uniform(-0.1, 1.0) * width, rng.uniform(-0.1, 1.0) * height
        w, h = rng.uniform(0.08, 0.4) * width, rng.uniform(0.08, 0.5) * height
        color = tuple(float(c) for c in rng.uniform(30.0, 230.0, 3))
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), color, -1)
    for _ in range(rng.integers(2, 6)):
        x = int(rng.uniform(0, width))
        color = tuple(float(c) for c in (base * rng.uniform(0.6, 0.9)))
        cv2.line(img, (x, 0), (x + int(rng.normal(0, 8)), height), color, int(rng.integers(1, 4)))
    fine = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 0.8)
    img = cv2.GaussianBlur(img, (0, 0), 1.2) + 6.0 * fine[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _noise_bank(rng, width, height, sigma, count=6, pad=16):
    """Camera noise fields (float32), slightly correlated like demosaiced sensor noise."""
    bank = []
    for _ in range(count):
        n = rng.standard_normal((height + pad, width + pad, 3)).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), 0.6)
        bank.append(n * (sigma / float(n.std())))
    return bank


# --------------------------------------------------------------------------------------------
# Drawing (face-local coordinates: unit = head half-width, y down)
# --------------------------------------------------------------------------------------------

class _Pose:
    """Similarity transform from face-local coordinates to image pixels."""

    def __init__(self, cx, cy, scale, angle):
        self.c = np.array([cx, cy])
        self.s = scale
        self.deg = math.degrees(angle)
        cos, sin = math.cos(angle), math.sin(angle)
        self.m = scale * np.array([[cos, -sin], [sin, cos]])

    def points(self, pts):
        return self.c + np.asarray(pts, float) @ self.m.T


def _fixed(pts):
    return np.round(np.asarray(pts) * _ONE).astype(np.int32)


def _color(c):
    return tuple(float(v) for v in np.clip(c, 0, 255))


def _fill(img, pose, pts, color):
    cv2.fillPoly(img, [_fixed(pose.points(pts))], _color(color), cv2.LINE_AA, _SHIFT)


def _stroke(img, pose, pts, color, thickness=1):
    cv2.polylines(img, [_fixed(pose.points(pts))], False, _color(color), thickness,
                  cv2.LINE_AA, _SHIFT)


def _ellipse(img, pose, center, axes, color, start=0, end=360, thickness=-1):
    c = tuple(int(v) for v in _fixed(pose.points([center])[0]))
    ax = tuple(max(0, int(round(a * pose.s * _ONE))) for a in axes)
    cv2.ellipse(img, c, ax, pose.deg, start, end, _color(color), thickness, cv2.LINE_AA, _SHIFT)


def _head_outline(ident, n=48):
    phi = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    sin = np.sin(phi)
    width = 1.0 - ident["jaw"] * np.clip(sin, 0.0, None) ** 2
    return np.stack([np.cos(phi) * width, ident["aspect"] * sin], axis=1)


_U = np.linspace(-1.0, 1.0, 17)


def _draw_face(img, pose, ident, v, mouth_open, eye_factor, gaze):
    """Draw person and face; ``v`` is the expressed valence (identity gain applied)."""
    skin, aspect = ident["skin"], ident["aspect"]
    w_mouth, w_brow, w_eye = ident["weights"]
    # body, neck, ears, hair behind the head
    _ellipse(img, pose, (0.0, 2.45 * aspect / 1.28), (2.1, 0.95), ident["clothes"])
    _fill(img, pose, [(-0.42, 0.6), (0.42, 0.6), (0.5, 1.9), (-0.5, 1.9)], skin * 0.82)
    for sx in (-1.0, 1.0):
        _ellipse(img, pose, (sx * 0.98, 0.02), (0.14, 0.26), skin * 0.88)
    vol = ident["hair_volume"]
    _ellipse(img, pose, (0.0, -0.12), (vol, aspect * 0.98), ident["hair"], 180, 360)
    # head: darker rim, lighter inner face
    outline = _head_outline(ident)
    _fill(img, pose, outline, skin * 0.9)
    _fill(img, pose, outline * np.array([0.9, 0.93]) + np.array([0.0, -0.02]), skin)
    # hair cap down to a parabolic hairline
    arc = np.linspace(math.pi, 2.0 * math.pi, 25)
    top = np.stack([vol * np.cos(arc), -0.12 + aspect * np.sin(arc)], axis=1)
    xs = np.linspace(vol, -vol, 21)
    hairline = np.stack([xs, -ident["hairline"] * aspect + 0.45 * xs ** 2 - 0.12], axis=1)
    _fill(img, pose, np.concatenate([top, hairline]), ident["hair"])
    # eyes
    ew, ey = ident["eye_w"], ident["eye_y"]
    pos, neg = max(w_eye * v, 0.0), max(-w_eye * v, 0.0)
    openness = ident["eye_open"] * (1.0 - 0.22 * pos - 0.3 * neg) * eye_factor
    eh = max(0.11 * ew / 0.18 * openness, 0.012)
    iris_r = 0.46 * ew
    for sx in (-1.0, 1.0):
        cx = sx * ident["eye_x"]
        _ellipse(img, pose, (cx, ey - eh - 0.05), (ew * 1.05, 0.05), skin * 0.86, 200, 340, 1)
        _ellipse(img, pose, (cx, ey), (ew, eh), (238, 236, 228))
        ic = (cx + gaze[0] * 0.3 * ew, ey + gaze[1] * 0.2 * eh)
        _ellipse(img, pose, ic, (iris_r, min(iris_r, 0.95 * eh)), ident["iris"])
        _ellipse(img, pose, ic, (0.45 * iris_r, min(0.45 * iris_r, 0.6 * eh)), (18, 14, 12))
        _ellipse(img, pose, (cx, ey), (ew, eh), (40, 30, 28), 180, 360, 2)
        _ellipse(img, pose, (cx, ey), (ew, eh), skin * 0.7, 0, 180, 1)
    # brows: sad -> inner ends up, outer ends down; happy -> both slightly up
    thick = ident["brow_thick"]
    pos, neg = max(w_brow * v, 0.0), max(-w_brow * v, 0.0)
    for sx in (-1.0, 1.0):
        base = ey - ident["brow_gap"] - 0.02 * pos
        inner = (sx * 0.1, base - 0.09 * neg + 0.01 * pos)
        outer = (sx * (ident["eye_x"] + ident["eye_w"] + 0.06), base + 0.06 * neg - 0.03 * pos)
        k = np.linspace(0.0, 1.0, 9)
        xs = inner[0] + k * (outer[0] - inner[0])
        ys = inner[1] + k * (outer[1] - inner[1]) - 0.05 * np.sin(math.pi * k)
        half = thick * (1.0 - 0.45 * k) / 2.0
        _fill(img, pose, np.concatenate([np.stack([xs, ys - half], 1),
                                         np.stack([xs, ys + half], 1)[::-1]]), ident["brow"])
    if neg > 0.05:                                   # frown lines between the brows
        for sx in (-1.0, 1.0):
            y0 = ey - ident["brow_gap"] - 0.02
            _stroke(img, pose, [(sx * 0.05, y0), (sx * 0.035, y0 + 0.11)],
                    skin * (1.0 - 0.3 * neg))
    # nose
    _stroke(img, pose, [(-0.03, -0.02), (-0.08, 0.26), (-0.02, 0.31), (0.06, 0.29)],
            skin * 0.78)
    for sx in (-1.0, 1.0):
        _ellipse(img, pose, (sx * 0.07, 0.31), (0.035, 0.018), skin * 0.55)
    # mouth: curvature follows v, width grows with a smile, opening from talking
    v = w_mouth * v
    pos = max(v, 0.0)
    mw = ident["mouth_w"] * (1.0 + 0.12 * pos)
    my = ident["mouth_y"]
    xs = _U * mw
    mid = my + 0.18 * v * (1.0 / 3.0 - _U ** 2)
    bell = (1.0 - _U ** 2) ** 0.7
    gap = (0.1 * mouth_open + 0.05 * max(v - 0.4, 0.0)) * bell
    upper = mid - gap - (0.05 * bell + 0.008)
    lower = mid + gap + (0.07 * bell + 0.008)
    _fill(img, pose, np.concatenate([np.stack([xs, upper], 1),
                                     np.stack([xs, lower], 1)[::-1]]), ident["lips"])
    if gap.max() > 0.004:
        _fill(img, pose, np.concatenate([np.stack([xs, mid - gap], 1),
                                         np.stack([xs, mid + gap], 1)[::-1]]), (58, 22, 26))
        if v > 0.2:
            teeth = np.minimum(gap * 2.0, 0.05 * bell)
            _fill(img, pose, np.concatenate([np.stack([xs * 0.75, mid - gap], 1),
                                             np.stack([xs * 0.75, mid - gap + teeth], 1)[::-1]]),
                  (226, 224, 214))
    _stroke(img, pose, np.stack([xs, mid], 1), ident["lips"] * 0.55)
    if pos > 0.05:                                   # smile folds beside the mouth
        for sx in (-1.0, 1.0):
            k = np.linspace(0.0, 1.0, 7)
            fold = np.stack([sx * (0.2 + (mw - 0.1) * k + 0.1 * np.sin(math.pi * k)),
                             0.24 + (my - 0.2) * k], 1)
            _stroke(img, pose, fold, skin * (1.0 - 0.28 * pos))


# --------------------------------------------------------------------------------------------
# Face boxes
# --------------------------------------------------------------------------------------------

def _stretches(rng, n, count, lengths, taken):
    """``count`` random non-overlapping frame ranges of the given lengths, avoiding ``taken``."""
    out = []
    attempts = 0
    while len(out) < count and attempts < 50 * count:
        attempts += 1
        length = int(min(rng.integers(lengths[0], lengths[1] + 1), max(n // 10, 1)))
        start = int(rng.integers(0, max(n - length, 0) + 1))
        if not taken[max(start - 2, 0):start + length + 2].any():
            taken[start:start + length] = True
            out.append((start, start + length))
    return out


def _detections(rng, boxes):
    """Detector output from the true boxes: jitter, a few misses (zeros), a few small boxes."""
    n = boxes.shape[0]
    det = boxes + rng.normal(0.0, 0.6, boxes.shape)
    det = np.round(det, 2)
    if n < 20:
        return det
    taken = np.zeros(n, bool)
    for start, stop in _stretches(rng, n, max(1, round(n / 150)), (3, 8), taken):
        det[start:stop] = 0.0
    for start, stop in _stretches(rng, n, max(1, round(n / 300)), (3, 8), taken):
        side = rng.uniform(55.0, 95.0)
        dx, dy = rng.uniform(-0.3, 0.3, 2) * boxes[start, 2]
        for i in range(start, stop):
            cx = boxes[i, 0] + boxes[i, 2] / 2 + dx
            cy = boxes[i, 1] + boxes[i, 3] / 2 + dy
            det[i] = np.round([cx - side / 2, cy - side / 2, side, side]
                              + rng.normal(0.0, 0.6, 4), 2)
    return det


# --------------------------------------------------------------------------------------------
# One sequence
# --------------------------------------------------------------------------------------------

def _render(seed_sequence, times, fps, size, video_path, progress):
    """Render and encode one sequence; return (valence at ``times``, detector boxes)."""
    width, height = size
    n = times.size
    s_identity, s_valence, s_motion, s_face, s_noise, s_boxes = seed_sequence.spawn(6)
    rng_id = np.random.default_rng(s_identity)
    ident = _identity(rng_id, width, height)
    background = _background(rng_id, width, height)
    rng_noise = np.random.default_rng(s_noise)
    bank = _noise_bank(rng_noise, width, height, ident["noise"])

    valence = valence_signal(s_valence, times)
    rng_m = np.random.default_rng(s_motion)
    shift_x = 0.07 * width * _evaluate(_sinusoids(rng_m, 3, 3.0, 20.0), times)
    shift_y = 0.035 * height * _evaluate(_sinusoids(rng_m, 3, 3.0, 20.0), times)
    zoom = np.clip(_evaluate(_sinusoids(rng_m, 2, 6.0, 25.0), times), -2.0, 2.0)
    scale = ident["scale"] * (1.0 + 0.06 * zoom)
    angle = math.radians(4.0) * _evaluate(_sinusoids(rng_m, 3, 2.0, 12.0), times)
    gain = 1.0 + 0.12 * _evaluate(_sinusoids(rng_m, 2, 4.0, 20.0), times)
    offset = 10.0 * _evaluate(_sinusoids(rng_m, 2, 4.0, 20.0), times)
    slope = 0.18 * _evaluate(_sinusoids(rng_m, 2, 5.0, 25.0), times)
    rng_f = np.random.default_rng(s_face)
    talking = _talking(rng_f, times)
    blinks = _blinks(rng_f, times, fps)
    gaze_x = np.clip(_evaluate(_sinusoids(rng_f, 3, 1.0, 8.0), times) / 2.0, -1.0, 1.0)
    gaze_y = np.clip(_evaluate(_sinusoids(rng_f, 2, 1.5, 8.0), times) / 2.0, -1.0, 1.0)
    # the face shows valence imperfectly: own gain and neutral face, and moods of its own
    wander = 0.12 * _evaluate(_sinusoids(rng_f, 3, 1.5, 8.0), times)
    expressed = np.clip(ident["gain"] * valence + ident["neutral"] + wander, -1.1, 1.1)

    ramp = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :, None]
    boxes = np.zeros((n, 4))
    rng_pick = np.random.default_rng(s_noise.spawn(1)[0])
    with atomic_path(video_path, ".mp4") as tmp:
        with av.open(tmp, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps))
            cc = stream.codec_context
            cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
            cc.thread_count = 1                                        # reproducible bytes
            cc.colorspace = cc.color_primaries = cc.color_trc = 6      # BT.601 (SMPTE 170M)
            cc.color_range = 1                                         # limited (TV) range
            # Without B-frames and macroblock tree: with them, x264's lookahead output
            # depends on memory it has not written, and the bytes vary from run to run.
            cc.options = {"crf": str(CRF), "preset": PRESET, "threads": "1",
                          "x264-params": "bframes=0:mbtree=0"}
            for i in range(n):
                pose = _Pose(ident["cx"] + shift_x[i], ident["cy"] + shift_y[i], scale[i],
                             angle[i])
                img = background.copy()
                _draw_face(img, pose, ident, float(expressed[i]), float(talking[i]),
                           float(blinks[i]), (gaze_x[i], gaze_y[i]))
                center = pose.points([(0.0, 0.12)])[0]
                side = 2.05 * scale[i]
                boxes[i] = (center[0] - side / 2 + 1, center[1] - side / 2 + 1, side, side)
                img = cv2.GaussianBlur(img, (3, 3), 0.7)
                k = int(rng_pick.integers(len(bank)))
                dy, dx = rng_pick.integers(0, 16, 2)
                frame = img.astype(np.float32)
                frame *= float(gain[i]) * (1.0 + float(slope[i]) * ramp)
                frame += float(offset[i])
                frame += bank[k][dy:dy + height, dx:dx + width]
                np.clip(frame, 0.0, 255.0, out=frame)
                # BT.601 limited-range 4:2:0, the colour space declared above.
                yuv = cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_RGB2YUV_I420)
                video_frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                video_frame.pts = i
                video_frame.time_base = Fraction(1, fps)
                for packet in stream.encode(video_frame):
                    container.mux(packet)
                if progress is not None:
                    progress.update(1)
            for packet in stream.encode():
                container.mux(packet)
    return valence, _detections(np.random.default_rng(s_boxes), boxes)


# --------------------------------------------------------------------------------------------
# The sample tree
# --------------------------------------------------------------------------------------------

def make_sample(root, n_train=3, n_dev=3, n_frames=300, fps=25, size=(320, 240), seed=0,
                progress=True):
    """Write a miniature AVEC 2016 tree under ``root``; return what was written where.

    Sequences are ``train_1..train_<n_train>`` and ``dev_1..dev_<n_dev>``, each ``n_frames``
    frames at ``fps`` (integer) of ``size`` = (width, height) pixels; the face scales with the
    height (boxes of about 110-190 px at 240 lines). From 20 frames on, each sequence has a few
    frames without a face box (zeros) and a few with a small one. Deterministic for a seed,
    down to the bytes of the videos.
    Returns ``dict(root, sequences, files={seq: {video, frame_time, gold_standard, bbox, gsd}},
    readme, n_frames, fps, size, seed)``.
    """
    root = os.path.abspath(os.fspath(root))
    width, height = (int(v) for v in size)
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ValueError(f"size must be even and at least 64 x 64, got {size}")
    if int(fps) != fps or fps <= 0:
        raise ValueError(f"fps must be a positive integer, got {fps}")
    if n_frames < 1 or n_train < 0 or n_dev < 0:
        raise ValueError("n_frames must be positive and n_train, n_dev not negative")
    fps = int(fps)
    names = [f"train_{k}" for k in range(1, n_train + 1)] + \
            [f"dev_{k}" for k in range(1, n_dev + 1)]
    files = {}
    bar = tqdm(total=len(names) * n_frames, unit="frame", desc="sample", disable=not progress)
    try:
        for name in names:
            part, index = name.split("_")
            seq_seed = np.random.SeedSequence([int(seed), _PARTS.index(part), int(index)])
            paths = dict(
                video=os.path.join(root, "recordings_video", name + ".mp4"),
                frame_time=os.path.join(root, "recordings_video_frame_time", name + ".csv"),
                gold_standard=os.path.join(root, "ratings_gold_standard", "valence",
                                           name + ".arff"),
                bbox=os.path.join(root, "data", "bbox", name + ".mat"),
                gsd=os.path.join(root, "data", "gsd", name + ".mat"),
            )
            # Times as written in the CSV and parsed back: the one set of doubles used everywhere.
            avec.write_frame_times(paths["frame_time"], np.round(np.arange(n_frames) / fps, 6))
            times = avec.read_frame_times(paths["frame_time"])[:, 1].copy()
            valence, boxes = _render(seq_seed, times, fps, (width, height), paths["video"], bar)
            gold = np.round(valence, 6)
            avec.write_gold_standard_arff(paths["gold_standard"], name, times, gold)
            avec.write_bbox_mat(paths["bbox"], boxes, times)
            avec.write_gsd_mat(paths["gsd"], gold, times)
            files[name] = paths
    finally:
        bar.close()
    readme = os.path.join(root, "README.txt")
    write_text_atomic(readme, README.format(seed=seed, names=", ".join(names) or "(none)",
                                            n_frames=n_frames, fps=fps, width=width,
                                            height=height, crf=CRF))
    return dict(root=root, sequences=names, files=files, readme=readme, n_frames=n_frames,
                fps=fps, size=(width, height), seed=seed)


def main(argv=None):
    """Command line: write the sample and print where each file went."""
    parser = argparse.ArgumentParser(prog="python -m reproduction.sample",
                                     description="Write the bundled AVEC-like sample data set.")
    parser.add_argument("--out", required=True, help="output folder (the AVEC 2016 root)")
    parser.add_argument("--train", type=int, default=3, help="training sequences (default 3)")
    parser.add_argument("--dev", type=int, default=3, help="development sequences (default 3)")
    parser.add_argument("--frames", type=int, default=300, help="frames per sequence (300)")
    parser.add_argument("--fps", type=int, default=25, help="frame rate (25)")
    parser.add_argument("--width", type=int, default=320, help="frame width (320)")
    parser.add_argument("--height", type=int, default=240, help="frame height (240)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    start = _time.perf_counter()
    try:
        info = make_sample(args.out, args.train, args.dev, args.frames, args.fps,
                           (args.width, args.height), args.seed, progress=bars_wanted(args.quiet))
    except ValueError as e:
        parser.error(str(e))
    elapsed = _time.perf_counter() - start
    root = info["root"]
    print(f"Wrote {len(info['sequences'])} sequences x {info['n_frames']} frames "
          f"({info['size'][0]}x{info['size'][1]}, {info['fps']} fps) under {root} "
          f"in {elapsed:.1f} s:")
    for key, what in (("video", "videos"), ("frame_time", "frame times"),
                      ("gold_standard", "valence gold standard"), ("bbox", "face boxes"),
                      ("gsd", "gold standard (.mat)")):
        folders = sorted({os.path.relpath(os.path.dirname(p[key]), root)
                          for p in info["files"].values()})
        print(f"  {what:<24} {', '.join(f + os.sep for f in folders)}")
    print(f"  {'description':<24} {os.path.relpath(info['readme'], root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
