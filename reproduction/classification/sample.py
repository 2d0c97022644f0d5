"""Labelled bundled sample: drawn actors showing RAVDESS's 8 expressions, in RAVDESS's layout.

:func:`make_labelled_sample` writes, for each of ``actors`` drawn people (own face shape, skin,
hair, framing, expressiveness), one video-only speech clip per emotion and intensity
(neutral: normal only, so half the clips of every other class, as RAVDESS) and per statement
and repetition asked for, each clip ``frames`` frames at 30 fps of full 1280 x 720 frames
(H.264, yuv420p, as RAVDESS's 720p mp4 files), named in RAVDESS's code::

    Actor_01/02-01-03-02-01-01-01.mp4     video only, speech, happy, strong, statement 1, ...
    README.txt

Each clip has onset-apex-offset dynamics: the face starts at the actor's rest face, moves to
the expression (normal intensity 0.6 of the strong one) over the first ~40 % of the clip, holds
it, and relaxes towards rest at the end; speech moves the mouth throughout, the head moves and
the eyes blink. Lower resolutions (640 x 360, 256 x 144) are derived from these frames by the
protocol (:mod:`.frames`). Deterministic for a seed. Command line:
``python -m reproduction.classification.sample --out DIR [--actors 6 --frames 20 --seed 0]``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from fractions import Fraction

import numpy as np

from caffe_compat.io.atomic import atomic_path, write_text_atomic

from .. import sample as _avec_sample
from .faces import actor_style, draw_face, movements
from .labels import RAVDESS_EMOTIONS

__all__ = ["make_labelled_sample", "clip_names", "FPS", "SIZE", "INTENSITY_AMOUNT", "main"]

FPS = 30
SIZE = (1280, 720)
INTENSITY_AMOUNT = {1: 0.6, 2: 1.0}       # normal, strong
CRF = 18
README = """\
Labelled RAVDESS-like sample (generated, not real recordings)
=============================================================

Written by `python -m reproduction.classification.sample` (seed {seed}): {actors} drawn actors,
each showing RAVDESS's 8 emotions (neutral, calm, happy, sad, angry, fearful, disgust,
surprised) at normal and strong intensity (neutral: normal only), {per_actor} clips per actor,
{frames} frames at {fps} fps, {width} x {height}, H.264 (CRF {crf}). File names follow RAVDESS's
code modality-channel-emotion-intensity-statement-repetition-actor (02 = video only, 01 =
speech). Each clip: rest face, onset, apex, offset; speech, head motion and blinks throughout.
"""


def clip_names(actors, statements=1, repetitions=1):
    """The RAVDESS stems of the sample's clips, in the order they are written."""
    out = []
    for actor in range(1, actors + 1):
        for emotion in range(1, 9):
            for intensity in ((1,) if emotion == 1 else (1, 2)):
                for statement in range(1, statements + 1):
                    for repetition in range(1, repetitions + 1):
                        out.append(f"02-01-{emotion:02d}-{intensity:02d}-{statement:02d}-"
                                   f"{repetition:02d}-{actor:02d}")
    return out


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def envelope(rng, n):
    """Onset-apex-offset profile over ``n`` frames: 0 at rest, 1 at the apex."""
    x = (np.arange(n) + 0.5) / n
    start, apex = rng.uniform(0.05, 0.15), rng.uniform(0.32, 0.42)
    hold, rest = rng.uniform(0.65, 0.78), rng.uniform(0.2, 0.4)
    rise = _smoothstep((x - start) / (apex - start))
    fall = 1.0 - (1.0 - rest) * _smoothstep((x - hold) / (1.0 - hold))
    return rise * fall


def _render_clip(path, ident, style, background, bank, emotion, amount, rng, n_frames,
                 size):
    S = _avec_sample
    width, height = size
    t = np.arange(n_frames) / FPS
    env = envelope(rng, n_frames)
    talk = 0.8 * S._talking(rng, t)
    blinks = S._blinks(rng, t, FPS)
    shift_x = 0.03 * width * np.sin(2 * math.pi * (t / rng.uniform(1.5, 4) + rng.random()))
    shift_y = 0.02 * height * np.sin(2 * math.pi * (t / rng.uniform(1.5, 4) + rng.random()))
    angle = math.radians(5.0) * np.sin(2 * math.pi * (t / rng.uniform(1.0, 3) + rng.random()))
    gain = rng.uniform(0.9, 1.1)
    with atomic_path(path, ".mp4") as tmp:
        import av
        with av.open(tmp, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(FPS))
            cc = stream.codec_context
            cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
            cc.thread_count = 1
            cc.colorspace = cc.color_primaries = cc.color_trc = 6
            cc.color_range = 1
            cc.options = {"crf": str(CRF), "preset": "ultrafast", "threads": "1",
                          "x264-params": "bframes=0:mbtree=0"}
            for i in range(n_frames):
                import cv2
                pose = S._Pose(ident["cx"] + shift_x[i], ident["cy"] + shift_y[i],
                               ident["scale"], angle[i])
                img = background.copy()
                draw_face(img, pose, ident, movements(emotion, amount * env[i], style),
                          float(talk[i]), float(blinks[i]), (0.0, 0.0))
                frame = img.astype(np.float32) * gain
                k = int(rng.integers(len(bank)))
                frame += bank[k][:height, :width]
                np.clip(frame, 0.0, 255.0, out=frame)
                yuv = cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_RGB2YUV_I420)
                vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                vf.pts = i
                vf.time_base = Fraction(1, FPS)
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def make_labelled_sample(root, actors=6, frames=20, statements=1, repetitions=1, seed=0,
                         size=SIZE, progress=True):
    """Write the sample under ``root`` (module doc); return ``dict(root, clips=[paths],
    actors, frames, fps, size, seed)``. Clips already there are kept (resumable)."""
    from tqdm import tqdm
    if actors < 2 or frames < 6:
        raise ValueError(f"the sample needs at least 2 actors and 6 frames per clip, got "
                         f"{actors} actors, {frames} frames")
    root = os.path.abspath(os.fspath(root))
    width, height = size
    names = clip_names(actors, statements, repetitions)
    paths = []
    bar = tqdm(total=len(names), unit="clip", desc="labelled sample", disable=not progress)
    try:
        for actor in range(1, actors + 1):
            mine = [n for n in names if n.endswith(f"-{actor:02d}")]
            todo = [n for n in mine
                    if not os.path.isfile(os.path.join(root, f"Actor_{actor:02d}", n + ".mp4"))]
            ss = np.random.SeedSequence([int(seed), 46, actor])
            s_id, s_style, s_clips = ss.spawn(3)
            rng_id = np.random.default_rng(s_id)
            ident = _avec_sample._identity(rng_id, width, height)
            background = _avec_sample._background(rng_id, width, height)
            bank = _avec_sample._noise_bank(rng_id, width, height, ident["noise"], count=3)
            style = actor_style(np.random.default_rng(s_style))
            clip_seeds = dict(zip(mine, s_clips.spawn(len(mine))))
            for name in mine:
                path = os.path.join(root, f"Actor_{actor:02d}", name + ".mp4")
                paths.append(path)
                if name in todo:
                    emotion, intensity = int(name[6:8]), int(name[9:11])
                    _render_clip(path, ident, style, background, bank,
                                 RAVDESS_EMOTIONS[emotion - 1], INTENSITY_AMOUNT[intensity],
                                 np.random.default_rng(clip_seeds[name]), frames, size)
                bar.update(1)
    finally:
        bar.close()
    write_text_atomic(os.path.join(root, "README.txt"), README.format(
        seed=seed, actors=actors, per_actor=len(names) // actors, frames=frames, fps=FPS,
        width=width, height=height, crf=CRF))
    return dict(root=root, clips=paths, actors=actors, frames=frames, fps=FPS,
                size=(width, height), seed=seed)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m reproduction.classification.sample",
                                description="Write the labelled RAVDESS-like sample.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--actors", type=int, default=6, help="actors (default 6)")
    p.add_argument("--frames", type=int, default=20, help="frames per clip at 30 fps (20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = p.parse_args(argv)
    try:
        info = make_labelled_sample(args.out, args.actors, args.frames, seed=args.seed)
    except ValueError as e:
        p.error(str(e))
    print(f"Wrote {len(info['clips'])} clips under {info['root']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
