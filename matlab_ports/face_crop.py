"""The face crop of ``prepare_dataset.m``, shared by :mod:`matlab_ports.prepare_dataset` and
:mod:`reproduction.predict`: the box test, the crop bounds (MATLAB's ``ceil`` and clamping),
the Y channel of ``rgb2ycbcr`` computed on the box only, ``single(Y)/255`` and the bicubic
resize to ``imSize``, and the commented "CHANGE HERE" degradation of the low-quality sets.
"""
from __future__ import annotations

import math

import numpy as np

from .imresize import imresize
from .errors import PortError

__all__ = ["IM_SIZE", "MIN_FACE", "crop_bounds", "luma", "bicubic_resize", "crop_face",
           "crop_face_rgb", "degrade", "box_status"]

IM_SIZE = 96            # imSize
MIN_FACE = 100          # cur_bbox(3) > 100 && cur_bbox(4) > 100


def _ceil(v):
    """MATLAB ``ceil`` of a double, as a float (keeps +-Inf and NaN)."""
    return float(math.ceil(v)) if math.isfinite(v) else v


def crop_bounds(box, hei, wid):
    """1-based inclusive ``(top, bot, left, right)`` of the script's crop of box
    ``(x, y, w, h)`` in a hei x wid frame, or None when the crop is empty or not defined
    (NaN corner; MATLAB stops with an indexing error in both cases)."""
    x, y, w, h = (float(v) for v in box)
    left = _ceil(x)
    top = _ceil(y)
    right = _ceil(x + w - 1)
    bot = _ceil(y + h - 1)
    if top < 1:
        top = 1.0
    if bot > hei:
        bot = float(hei)
    if left < 1:
        left = 1.0
    if right > wid:
        right = float(wid)
    if any(math.isnan(v) for v in (top, bot, left, right)) or top > bot or left > right:
        return None
    return int(top), int(bot), int(left), int(right)


def luma(rgb):
    """``Y = rgb2ycbcr(frame); Y = Y(:,:,1)`` (uint8) for an RGB uint8 frame.

    Only the Y channel is computed, with rgb2ycbcr's arithmetic for uint8 input (``T(1,1)*R +
    T(1,2)*G + T(1,3)*B + 16`` accumulated in double in that order, rounded half away from zero
    and saturated), so the result equals ``rgb2ycbcr(frame)[:, :, 0]`` bit for bit.
    """
    from .color import rgb2ycbcr_coefficients
    from .mfuncs import to_class
    a = np.asarray(rgb)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        a = np.asarray(a, dtype=np.uint8)
        if a.ndim != 3 or a.shape[2] != 3:
            raise PortError(f"rgb: expected an H x W x 3 uint8 frame, got shape {a.shape}")
    t, offsets = rgb2ycbcr_coefficients("uint8")
    (t0, t1, t2), offset = t[0], offsets[0]
    acc = a[:, :, 0].astype(np.float64)
    acc *= t0
    acc += a[:, :, 1].astype(np.float64) * t1
    acc += a[:, :, 2].astype(np.float64) * t2
    acc += offset
    return to_class(acc, "uint8")


def _single_over_255(y):
    y = np.asarray(y)
    if y.dtype == np.uint8:
        return y.astype(np.float32) / np.float32(255)
    return np.asarray(y, dtype=np.float32)


def bicubic_resize(img, output_size=None, scale=None):
    """``imresize(img, [rows cols], 'bicubic')`` or ``imresize(img, scale, 'bicubic')``: the
    script's resize step (one named function, so a run can be interrupted at it in tests)."""
    return imresize(img, scale=scale, output_size=output_size, method="bicubic")


def _crop(a, bounds):
    top, bot, left, right = bounds
    return a[top - 1:bot, left - 1:right]


def crop_face(y, box, size=IM_SIZE):
    """The script's crop of ``single(Y)/255`` (``Y`` uint8; other classes are taken as already
    scaled) with box (x, y, w, h), resized to ``size`` x ``size`` (bicubic, MATLAB-exact,
    single); None when the clamped box is empty."""
    y = np.asarray(y)
    b = crop_bounds(box, y.shape[0], y.shape[1])
    if b is None:
        return None
    return bicubic_resize(_single_over_255(_crop(y, b)), output_size=(size, size))


def crop_face_rgb(rgb, box, size=IM_SIZE):
    """:func:`crop_face` of ``luma(rgb)``, converting only the pixels in the box (the colour
    conversion is per pixel, so the result is the same)."""
    rgb = np.asarray(rgb)
    b = crop_bounds(box, rgb.shape[0], rgb.shape[1])
    if b is None:
        return None
    return bicubic_resize(_single_over_255(luma(_crop(rgb, b))), output_size=(size, size))


def degrade(face, s):
    """The script's "CHANGE HERE" line: ``imresize(imresize(face, 1/s, 'bicubic'),
    [imSize imSize], 'bicubic')`` (the size of ``face``)."""
    small = bicubic_resize(face, scale=1.0 / float(s))
    return bicubic_resize(small, output_size=face.shape[:2])


def box_status(box, min_face=MIN_FACE):
    """'kept', 'zero' (no face: ``sum(box) == 0``) or 'small' (not wider and taller than
    ``min_face``), by the script's test ``sum(cur_bbox,2) ~= 0 && w > 100 && h > 100``."""
    x, y, w, h = (float(v) for v in box)
    if ((x + y) + w) + h == 0:
        return "zero"
    if w > min_face and h > min_face:
        return "kept"
    return "small"

