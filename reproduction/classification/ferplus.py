"""FER+ reader: fer2013.csv's 48 x 48 faces with fer2013new.csv's crowd votes.

fer2013.csv (Goodfellow et al. 2013) has a header ``emotion,pixels,Usage`` and one row per
face: FER's own label, 2304 space-separated grey values (48 x 48, row by row) and the usage
(``Training``, ``PublicTest``, ``PrivateTest``). fer2013new.csv (Barsoum et al. 2016, FER+)
has the same rows in the same order, with the header ``Usage,Image name,neutral,happiness,
surprise,sadness,anger,disgust,fear,contempt,unknown,NF``: ten taggers' votes per face; an empty
image name marks a face FER+ left out.

The label is FER+'s own *majority* rule (its ``ferplus.py``, training mode ``majority``):

1. a class with a single vote is an outlier and loses it (votes of 1 become 0);
2. the class with the most remaining votes is the label if it holds more than half of them;
   otherwise (a tie included) the face is *unknown*;
3. a face whose label is ``unknown`` or ``NF`` (not a face) is left out, as are unknown faces.

The usages map to FER+'s folders: Training -> FER2013Train, PublicTest -> FER2013Valid,
PrivateTest -> FER2013Test. ``classes=7`` drops contempt (the seed's 7-class FER+).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ReproductionError
from .labels import FERPLUS_COLUMNS, FERPLUS_EMOTIONS

__all__ = ["FerPlus", "majority_label", "read_ferplus", "USAGES", "UNKNOWN", "NOT_FACE"]

USAGES = {"Training": "train", "PublicTest": "valid", "PrivateTest": "test"}
UNKNOWN, NOT_FACE = FERPLUS_COLUMNS.index("unknown"), FERPLUS_COLUMNS.index("NF")
_FER_HEADER = ("emotion", "pixels", "Usage")
_NEW_HEADER = ("Usage", "Image name") + FERPLUS_COLUMNS


def majority_label(votes) -> int:
    """FER+'s majority rule (module doc) on one row of 10 vote counts: the column index of
    the label (0-7 an emotion, 8 unknown, 9 NF); ties and no majority give 8 (unknown)."""
    v = np.asarray(votes, np.float64).copy()
    v[v <= 1.0] = 0.0
    total = v.sum()
    if total <= 0:
        return UNKNOWN
    best = int(np.argmax(v))
    return best if v[best] > 0.5 * total else UNKNOWN


@dataclass
class FerPlus:
    """Faces kept by the majority rule: ``images`` (N x 48 x 48 uint8), ``labels`` (N, index
    into ``classes``), ``usage`` (N, 'train' / 'valid' / 'test'), ``votes`` (N x 10),
    ``rows`` (N, the 1-based data line of each face in both files) and the counts of the faces
    left out and why."""
    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    votes: np.ndarray
    rows: np.ndarray
    classes: tuple
    left_out: dict

    def part(self, usage):
        """``(images, labels)`` of one usage ('train', 'valid' or 'test')."""
        keep = self.usage == usage
        return self.images[keep], self.labels[keep]


def _rows(path, header):
    if not os.path.isfile(path):
        raise ReproductionError(f"{path}: no such file")
    f = open(path, newline="", encoding="utf-8")
    reader = csv.reader(f)
    first = next(reader, None)
    if first is None or tuple(h.strip() for h in first) != header:
        f.close()
        raise ReproductionError(f"{path}:1: expected the header {','.join(header)}, got "
                                f"{','.join(first or [])!r}")
    return f, reader


def read_ferplus(fer2013_csv, fer2013new_csv, classes=8):
    """Read both files (module doc) into a :class:`FerPlus`. ``classes``: 8 (FER+'s emotions)
    or 7 (contempt left out, as the seed's 7-class network). A malformed row (wrong field
    count, pixels that are not 2304 integers in 0-255, a vote that is not a count, usages that
    disagree between the files, one file longer than the other) is an error naming the file
    and line."""
    if classes not in (7, 8):
        raise ReproductionError(f"FER+ classes: expected 7 or 8, got {classes}")
    names = FERPLUS_EMOTIONS if classes == 8 else tuple(c for c in FERPLUS_EMOTIONS
                                                         if c != "contempt")
    column_to_class = {FERPLUS_COLUMNS.index(c): i for i, c in enumerate(names)}
    fer, new = os.fspath(fer2013_csv), os.fspath(fer2013new_csv)
    fa, ra = _rows(fer, _FER_HEADER)
    fb, rb = _rows(new, _NEW_HEADER)
    images, labels, usage, votes, rows = [], [], [], [], []
    left_out = {"no image name": 0, "unknown": 0, "not a face": 0, "contempt": 0}
    try:
        line = 1
        while True:
            a, b = next(ra, None), next(rb, None)
            line += 1
            if a is None and b is None:
                break
            if a is None or b is None:
                longer = new if a is None else fer
                raise ReproductionError(f"{longer}:{line}: this file has more rows than "
                                        f"{fer if a is None else new}; the two files must "
                                        "hold the same faces in the same order")
            if len(a) != 3:
                raise ReproductionError(f"{fer}:{line}: expected 3 fields (emotion,pixels,"
                                        f"Usage), got {len(a)}")
            if len(b) != len(_NEW_HEADER):
                raise ReproductionError(f"{new}:{line}: expected {len(_NEW_HEADER)} fields "
                                        f"(Usage, Image name and 10 vote counts), got {len(b)}")
            if a[2] not in USAGES or b[0] != a[2]:
                raise ReproductionError(
                    f"{new}:{line}: usage {b[0]!r} where {fer}:{line} says {a[2]!r}; expected "
                    f"the same one of {', '.join(USAGES)} in both files")
            try:
                counts = np.array([int(x) for x in b[2:]], np.int64)
            except ValueError:
                raise ReproductionError(f"{new}:{line}: the vote counts must be integers, got "
                                        f"{','.join(b[2:])!r}") from None
            if (counts < 0).any():
                raise ReproductionError(f"{new}:{line}: a negative vote count")
            if not b[1].strip():
                left_out["no image name"] += 1
                continue
            label = majority_label(counts)
            if label == UNKNOWN:
                left_out["unknown"] += 1
                continue
            if label == NOT_FACE:
                left_out["not a face"] += 1
                continue
            if label not in column_to_class:
                left_out["contempt"] += 1
                continue
            pixels = a[1].split()
            try:
                face = np.array([int(p) for p in pixels], np.int64)
            except ValueError:
                face = None
            if face is None or face.size != 48 * 48 or face.min() < 0 or face.max() > 255:
                raise ReproductionError(f"{fer}:{line}: expected 2304 space-separated grey "
                                        "values in 0-255 (a 48 x 48 face)")
            images.append(face.astype(np.uint8).reshape(48, 48))
            labels.append(column_to_class[label])
            usage.append(USAGES[a[2]])
            votes.append(counts)
            rows.append(line - 1)
    finally:
        fa.close()
        fb.close()
    return FerPlus(
        images=np.stack(images) if images else np.zeros((0, 48, 48), np.uint8),
        labels=np.array(labels, np.int64), usage=np.array(usage, dtype=object),
        votes=np.stack(votes) if votes else np.zeros((0, 10), np.int64),
        rows=np.array(rows, np.int64), classes=names, left_out=left_out)
