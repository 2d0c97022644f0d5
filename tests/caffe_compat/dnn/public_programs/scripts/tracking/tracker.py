"""Tracks from detections: each frame's boxes joined to the open tracks of the same class by
overlap (intersection over union), failing that by the distance between centres."""
import dataclasses

import numpy as np


@dataclasses.dataclass
class Track:
    number: int
    class_id: int
    box: tuple                  # x, y, w, h in pixels
    confidence: float
    missed: int = 0             # frames since it was last matched
    length: int = 1             # frames it was matched in

    @property
    def centre(self):
        x, y, w, h = self.box
        return np.array([x + w / 2.0, y + h / 2.0])


def overlap(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class OverlapTracker:
    """Greedy frame-to-frame association.

    Pairs (track, detection) of the same class are taken best overlap first while the overlap
    is at least ``min_overlap``; the detections left are then joined to the tracks left whose
    centre lies within ``max_shift`` of the track's box diagonal, nearest first. A detection
    joined to nothing opens a track; a track matched by nothing for more than ``patience``
    frames is closed."""

    def __init__(self, min_overlap=0.3, max_shift=0.5, patience=1):
        self.min_overlap = min_overlap
        self.max_shift = max_shift
        self.patience = patience
        self.tracks = []
        self.next_number = 0

    def _pairs(self, detections, score):
        pairs = []
        for i, track in enumerate(self.tracks):
            for j, (box, _, class_id) in enumerate(detections):
                if track.class_id == class_id:
                    value = score(track, box)
                    if value is not None:
                        pairs.append((value, i, j))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        return pairs

    def _join(self, pairs, detections, used_tracks, used_detections):
        for _, i, j in pairs:
            if i in used_tracks or j in used_detections:
                continue
            box, confidence, _ = detections[j]
            track = self.tracks[i]
            track.box, track.confidence = box, confidence
            track.missed, track.length = 0, track.length + 1
            used_tracks.add(i)
            used_detections.add(j)

    def update(self, boxes, confidences, class_ids):
        """Take one frame's detections; returns the tracks matched or opened in it."""
        detections = [(tuple(int(v) for v in b), float(c), int(k))
                      for b, c, k in zip(boxes, confidences, class_ids)]
        used_tracks, used_detections = set(), set()

        def by_overlap(track, box):
            value = overlap(track.box, box)
            return value if value >= self.min_overlap else None

        def by_centre(track, box):
            x, y, w, h = box
            distance = np.hypot(*(track.centre - (x + w / 2.0, y + h / 2.0)))
            reach = self.max_shift * np.hypot(track.box[2], track.box[3])
            return -distance if distance <= reach else None

        self._join(self._pairs(detections, by_overlap), detections, used_tracks, used_detections)
        self._join([p for p in self._pairs(detections, by_centre) if p[1] not in used_tracks],
                   detections, used_tracks, used_detections)
        current = [self.tracks[i] for i in sorted(used_tracks)]
        for i, track in enumerate(self.tracks):
            if i not in used_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.patience]
        for j, (box, confidence, class_id) in enumerate(detections):
            if j not in used_detections:
                track = Track(self.next_number, class_id, box, confidence)
                self.next_number += 1
                self.tracks.append(track)
                current.append(track)
        return current
