"""Degradation of whole frames to the seed's resolutions and frame rates, and face crops found
after it.

Maclean 2021 degrades each RAVDESS clip as a whole (1280 x 720) to 640 x 360 and 256 x 144 and
to 30, 15 and 5 fps, then finds the face in every frame of the degraded video. Here:

- :func:`degrade_frame` resizes the whole RGB frame with area averaging (``cv2.INTER_AREA``,
  what a video scaler does when it shrinks; the seed does not name its scaler);
- :func:`frame_indices` keeps every ``30 / fps``-th frame from the first (30 fps: all, 15:
  every 2nd, 5: every 6th);
- :func:`face_crops` finds the face in each frame of one degraded clip with the project's
  face detector (MTCNN, :class:`matlab_ports.face_detector.FaceDetector`; the seed's Haar
  cascades are gone from OpenCV 5), the smallest face searched for being a fraction of the
  frame height (:func:`detector_for`: 40 % on the bundled sample, whose faces are 52-69 %;
  20 % on other data); a frame where none is found takes the box of the nearest frame of the
  clip where one was (the clip's centre square where none was), and is counted. The box, widened to a
  square, is cropped, turned grey (ITU-R 601 luma) and resized to 48 x 48 (FER+'s format,
  ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging).

Frame rates select frames of the 30 fps video, so the crops of one resolution serve all three
frame rates: a face is found once per frame, as the seed's detection of each kept frame would.
"""
from __future__ import annotations

import numpy as np

from ..errors import ReproductionError

__all__ = ["RESOLUTIONS", "FRAME_RATES", "SOURCE_FPS", "CROP", "degrade_frame",
           "frame_indices", "read_clip", "face_crops"]

RESOLUTIONS = {"720p": (1280, 720), "360p": (640, 360), "144p": (256, 144)}
FRAME_RATES = (30, 15, 5)
SOURCE_FPS = 30
CROP = 48
MIN_FACE = 0.2          # smallest face, as a fraction of the frame height, on real data
SAMPLE_MIN_FACE = 0.4   # on the bundled sample (its faces are 52-69 % of the height)


def degrade_frame(rgb, size):
    """The whole frame resized to ``size`` = (width, height) by area averaging."""
    import cv2
    if rgb.shape[1] == size[0] and rgb.shape[0] == size[1]:
        return rgb
    return cv2.resize(rgb, tuple(size), interpolation=cv2.INTER_AREA)


def frame_indices(n, fps, source_fps=SOURCE_FPS):
    """Indices of the frames kept at ``fps`` from an ``n``-frame ``source_fps`` clip."""
    if fps not in FRAME_RATES or source_fps % fps:
        raise ReproductionError(f"frame rate {fps}: expected one of "
                                f"{', '.join(map(str, FRAME_RATES))} fps")
    return np.arange(0, int(n), source_fps // fps)


def read_clip(path):
    """Every frame of a video as RGB uint8 (n x H x W x 3); an unreadable file is an error
    naming it."""
    import av
    try:
        with av.open(path) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.error.FFmpegError, OSError) as e:
        raise ReproductionError(f"{path}: cannot decode the video ({e})") from None
    if not frames:
        raise ReproductionError(f"{path}: the video has no frame")
    return np.stack(frames)


def _crop(rgb, box, size=CROP):
    import cv2
    h, w = rgb.shape[:2]
    x, y, bw, bh = box
    side = max(bw, bh)
    cx, cy = x - 1 + bw / 2.0, y - 1 + bh / 2.0            # 1-based box -> 0-based centre
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(int(round(side)), 2)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    pad = s
    padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    patch = padded[y0 + pad:y0 + pad + s, x0 + pad:x0 + pad + s]
    if patch.shape[0] != s or patch.shape[1] != s:             # a box far outside the frame
        patch = cv2.resize(grey, (s, s), interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def face_crops(frames, size, detector):
    """48 x 48 grey face crops (n x 48 x 48 uint8) of one clip's frames degraded to ``size``,
    and a boolean mask of the frames where the detector found the face (module doc)."""
    small = [degrade_frame(f, size) for f in frames]
    boxes = [detector(f) for f in small]
    found = np.array([b is not None for b in boxes])
    if found.any():
        where = np.flatnonzero(found)
        for i in np.flatnonzero(~found):
            boxes[i] = boxes[int(where[np.argmin(np.abs(where - i))])]
    else:
        w, h = size
        side = min(w, h)
        boxes = [((w - side) / 2 + 1, (h - side) / 2 + 1, side, side)] * len(small)
    return np.stack([_crop(f, b) for f, b in zip(small, boxes)]), found


def detector_for(size, min_face=MIN_FACE):
    """The face detector for frames of ``size``, the smallest face ``min_face`` x the frame
    height (at least MTCNN's 12 px)."""
    from matlab_ports.face_detector import FaceDetector
    return FaceDetector(min_face=max(12.0, float(min_face) * size[1]))
