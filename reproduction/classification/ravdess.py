"""RAVDESS reader: clips from the file-name code, and actor-disjoint folds kept in a file.

RAVDESS (Livingstone and Russo 2018) names every file with seven two-digit fields,
``MM-VV-EE-II-SS-RR-AA.mp4``:

- modality ``MM``: 01 audio-video, 02 video only, 03 audio only;
- vocal channel ``VV``: 01 speech, 02 song;
- emotion ``EE``: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
  08 surprised (song has no 07 or 08);
- intensity ``II``: 01 normal, 02 strong (neutral has no strong intensity);
- statement ``SS``: 01 "Kids are talking by the door", 02 "Dogs are sitting by the door";
- repetition ``RR``: 01, 02;
- actor ``AA``: 01-24 (odd male, even female).

The seed paper classifies the video-only speech clips (``02-01-...``): per actor 4 neutral
clips (2 statements x 2 repetitions) and 8 of each other emotion (x 2 intensities), 60 per
actor, 1440 for the 24 actors. :func:`read_clips` walks a tree (any folder layout, e.g. the
distributed ``Video_Speech_Actor_NN/Actor_NN/``) and keeps those clips; a name that does not
follow the code is an error naming the file.

Folds (:func:`load_or_make_folds`) split the actors, never the clips of one actor, into k
folds, drawn once from a seed and written to a JSON file that later runs read back, so every
run and every method sees the same split.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ReproductionError
from .labels import RAVDESS_EMOTIONS

__all__ = ["Clip", "parse_name", "read_clips", "class_counts", "make_folds",
           "load_or_make_folds", "split", "VIDEO_ONLY", "SPEECH"]

VIDEO_ONLY, SPEECH = 2, 1
_FIELDS = ("modality", "channel", "emotion", "intensity", "statement", "repetition", "actor")
_NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")
_RANGES = dict(modality=(1, 3), channel=(1, 2), emotion=(1, 8), intensity=(1, 2),
               statement=(1, 2), repetition=(1, 2), actor=(1, 24))
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


@dataclass(frozen=True)
class Clip:
    """One RAVDESS file: its path and the seven codes of its name; ``label`` is the class
    index (emotion code - 1) into :data:`RAVDESS_EMOTIONS`."""
    path: str
    modality: int
    channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def label(self) -> int:
        return self.emotion - 1

    @property
    def stem(self) -> str:
        return "-".join(f"{getattr(self, f):02d}" for f in _FIELDS)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_name(path) -> Clip:
    """The :class:`Clip` of one file name; :class:`ReproductionError` naming the file and the
    field when the name does not follow RAVDESS's code."""
    path = os.fspath(path)
    stem, _ = os.path.splitext(os.path.basename(path))
    m = _NAME.fullmatch(stem)
    if not m:
        raise ReproductionError(
            f"{path}: not a RAVDESS file name; expected seven two-digit fields "
            "modality-channel-emotion-intensity-statement-repetition-actor, e.g. "
            "02-01-06-01-02-01-12.mp4")
    codes = dict(zip(_FIELDS, (int(g) for g in m.groups())))
    for field, (lo, hi) in _RANGES.items():
        if not lo <= codes[field] <= hi:
            raise ReproductionError(f"{path}: {field} code {codes[field]:02d} is outside "
                                    f"RAVDESS's {lo:02d}-{hi:02d}")
    if codes["emotion"] == 1 and codes["intensity"] == 2:
        raise ReproductionError(f"{path}: neutral (emotion 01) with strong intensity (02); "
                                "RAVDESS has no strong neutral clip")
    return Clip(path=path, **codes)


def read_clips(root, modality=VIDEO_ONLY, channel=SPEECH):
    """Every clip under ``root`` (searched recursively) of the given modality and vocal
    channel (default: video-only speech, the seed's clips), sorted by actor then name.
    Files other than videos and hidden files are ignored; a video whose name breaks the code
    is an error naming it."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise ReproductionError(f"{root}: no such folder (expected the RAVDESS root, holding "
                                "Actor_NN folders of MM-VV-EE-II-SS-RR-AA.mp4 files)")
    clips = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.startswith(".") or os.path.splitext(f)[1].lower() not in VIDEO_EXTENSIONS:
                continue
            clip = parse_name(os.path.join(folder, f))
            if clip.modality == modality and clip.channel == channel:
                clips.append(clip)
    if not clips:
        raise ReproductionError(f"{root}: no RAVDESS clip of modality {modality:02d} and "
                                f"vocal channel {channel:02d} (the seed's video-only speech "
                                "clips are 02-01-*.mp4)")
    seen = {}
    for c in clips:
        if c.stem in seen:
            raise ReproductionError(f"{c.path}: the same clip as {seen[c.stem]}")
        seen[c.stem] = c.path
    return sorted(clips, key=lambda c: (c.actor, c.stem))


def class_counts(clips):
    """Clips per class, as an array of 8 counts in :data:`RAVDESS_EMOTIONS` order."""
    return np.bincount([c.label for c in clips], minlength=len(RAVDESS_EMOTIONS))


def make_folds(actors, k, seed=0):
    """``k`` actor-disjoint folds: the actors shuffled by ``seed`` and dealt round-robin (fold
    sizes differ by at most one); each fold sorted."""
    actors = sorted({int(a) for a in actors})
    if not 2 <= int(k) <= len(actors):
        raise ReproductionError(f"folds: expected 2 to {len(actors)} folds for "
                                f"{len(actors)} actors, got {k}")
    order = np.random.default_rng(seed).permutation(actors)
    return [sorted(int(a) for a in order[i::int(k)]) for i in range(int(k))]


def load_or_make_folds(path, actors, k=5, seed=0):
    """The folds kept in ``path`` (JSON), or new ones (:func:`make_folds`) written there
    atomically. A file whose actors are not this data's actors, or that repeats an actor, is
    an error naming it (delete it to draw new folds)."""
    from caffe_compat.io.atomic import write_text_atomic
    path = os.fspath(path)
    actors = sorted({int(a) for a in actors})
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                folds = [[int(a) for a in fold] for fold in json.load(f)["folds"]]
        except (ValueError, KeyError, TypeError) as e:
            raise ReproductionError(f"{path}: not a folds file ({e}); expected "
                                    '{"folds": [[actor, ...], ...]}') from None
        flat = [a for fold in folds for a in fold]
        if len(flat) != len(set(flat)):
            raise ReproductionError(f"{path}: an actor is in two folds; folds must be "
                                    "actor-disjoint")
        if sorted(flat) != actors:
            raise ReproductionError(f"{path}: its folds hold actors {sorted(flat)}, the data "
                                    f"has {actors}; delete the file to draw new folds")
        return folds
    folds = make_folds(actors, k, seed)
    write_text_atomic(path, json.dumps({"seed": int(seed), "k": int(k), "folds": folds},
                                       indent=1) + "\n")
    return folds


def split(clips, folds, test_fold):
    """``(train, test)`` clips: the actors of fold ``test_fold`` are tested, the rest train."""
    if not 0 <= int(test_fold) < len(folds):
        raise ReproductionError(f"test fold {test_fold}: expected 0 to {len(folds) - 1}")
    test_actors = set(folds[int(test_fold)])
    return ([c for c in clips if c.actor not in test_actors],
            [c for c in clips if c.actor in test_actors])
