"""The R-CNN window file of Caffe's WindowDataLayer, and the geometry of one window.

Format (whitespace-separated, read with C++ ``>>``), repeated per image::

    # image_index
    img_path
    channels
    height
    width
    num_windows
    class_index overlap x1 y1 x2 y2      (num_windows lines)

A window with ``overlap >= fg_threshold`` is foreground (its label must be positive); one
with ``overlap < bg_threshold`` is background (label and overlap set to 0); others are
dropped. Windows name their image by ``image_index``, which indexes the images in file order."""
from __future__ import annotations

import math

import numpy as np

from ..errors import DataError
from .hdf5 import CPP_WORD

f32 = np.float32


class Window:
    __slots__ = ("image_index", "label", "overlap", "x1", "y1", "x2", "y2")

    def __init__(self, image_index, label, overlap, x1, y1, x2, y2):
        self.image_index, self.label, self.overlap = image_index, label, overlap
        self.x1, self.y1, self.x2, self.y2 = x1, y1, x2, y2


class _Tokens:
    """C++ ``>>`` over a text: whitespace-separated tokens with their line numbers."""

    def __init__(self, text, path):
        self.path = path
        self.items = []
        for lineno, line in enumerate(text.split("\n"), 1):
            self.items.extend((tok, lineno) for tok in CPP_WORD.findall(line))
        self.pos = 0

    def more(self):
        return self.pos < len(self.items)

    def take(self, what, kind=str):
        if self.pos >= len(self.items):
            last = self.items[-1][1] if self.items else 0
            raise DataError(f"{self.path}:{last}: the window file ends where {what} was "
                            "expected")
        tok, lineno = self.items[self.pos]
        self.pos += 1
        if kind is str:
            return tok, lineno
        try:
            if kind is int:
                value = int(tok)
            else:
                value = f32(tok)
                if not math.isfinite(float(value)) and tok.lower().lstrip("+-") not in (
                        "inf", "infinity", "nan"):
                    raise ValueError(tok)
        except ValueError:
            raise DataError(f"{self.path}:{lineno}: expected {what} (a number), got "
                            f"'{tok}'") from None
        return value, lineno


def read_window_file(path, fg_threshold, bg_threshold, root_folder="", where=""):
    """``(images, fg_windows, bg_windows)``: images as ``(path, (channels, height, width),
    line)`` in file order, windows as :class:`Window` lists, split as Caffe does."""
    label = where or path
    try:
        with open(path, "r", encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        raise DataError(f"{label}: window file '{path}' does not exist") from None
    except OSError as e:
        raise DataError(f"{label}: cannot read window file '{path}': {e.strerror or e}") \
            from None
    toks = _Tokens(text, path)
    if not toks.more():
        raise DataError(f"{label}: window file '{path}' is empty")
    fg_t, bg_t = f32(fg_threshold), f32(bg_threshold)
    images, fg, bg = [], [], []
    while toks.more():
        tag, lineno = toks.take("'#'")
        if tag != "#":
            raise DataError(f"{path}:{lineno}: expected '#' to start an image entry, got "
                            f"'{tag}'")
        image_index, _ = toks.take("the image index", int)
        name, name_line = toks.take("the image path")
        size = tuple(toks.take(what, int)[0] for what in ("channels", "height", "width"))
        images.append((root_folder + name, size, name_line))
        num_windows, _ = toks.take("the number of windows", int)
        for _ in range(num_windows):
            lab, wline = toks.take("a window's class index", int)
            overlap, _ = toks.take("a window's overlap", float)
            x1, y1, x2, y2 = (toks.take(f"a window's {c}", int)[0]
                              for c in ("x1", "y1", "x2", "y2"))
            if overlap >= fg_t:
                if lab <= 0:
                    raise DataError(f"{path}:{wline}: a foreground window (overlap "
                                    f"{float(overlap):g} >= fg_threshold) needs a positive "
                                    f"class index, got {lab}")
                fg.append(Window(image_index, lab, overlap, x1, y1, x2, y2))
            elif overlap < bg_t:
                bg.append(Window(image_index, 0, f32(0), x1, y1, x2, y2))
    for w in fg + bg:
        if not 0 <= w.image_index < len(images):
            raise DataError(f"{label}: a window names image index {w.image_index}, but the "
                            f"window file lists {len(images)} images (indices count the "
                            "images in file order from 0)")
    return images, fg, bg


def c_round(x):
    """C's ``round``: halves away from zero (x is a float32 value, exact in a double)."""
    x = float(x)
    r = math.floor(abs(x))
    if abs(x) - r >= 0.5:
        r += 1
    return int(math.copysign(r, x)) if r else 0


def window_geometry(window, rows, cols, crop_size, context_pad, square, do_mirror):
    """WindowDataLayer's region arithmetic (float32 as Caffe's Dtype): the clipped region
    ``(x1, y1, x2, y2)`` of the image, the warp size ``(width, height)`` and the paste offset
    ``(pad_h, pad_w)`` in the crop."""
    x1, y1, x2, y2 = window.x1, window.y1, window.x2, window.y2
    width = height = crop_size
    pad_w = pad_h = 0
    if context_pad > 0 or square:
        context_scale = f32(crop_size) / f32(crop_size - 2 * context_pad)
        half_height = f32((y2 - y1 + 1) / 2.0)
        half_width = f32((x2 - x1 + 1) / 2.0)
        center_x = f32(x1) + half_width
        center_y = f32(y1) + half_height
        if square:
            if half_height > half_width:
                half_width = half_height
            else:
                half_height = half_width
        x1 = c_round(center_x - half_width * context_scale)
        x2 = c_round(center_x + half_width * context_scale)
        y1 = c_round(center_y - half_height * context_scale)
        y2 = c_round(center_y + half_height * context_scale)
        unclipped_height = y2 - y1 + 1
        unclipped_width = x2 - x1 + 1
        pad_x1 = max(0, -x1)
        pad_y1 = max(0, -y1)
        pad_x2 = max(0, x2 - cols + 1)
        pad_y2 = max(0, y2 - rows + 1)
        x1, x2, y1, y2 = x1 + pad_x1, x2 - pad_x2, y1 + pad_y1, y2 - pad_y2
        clipped_height = y2 - y1 + 1
        clipped_width = x2 - x1 + 1
        scale_x = f32(crop_size) / f32(unclipped_width)
        scale_y = f32(crop_size) / f32(unclipped_height)
        width = c_round(f32(clipped_width) * scale_x)
        height = c_round(f32(clipped_height) * scale_y)
        pad_x1 = c_round(f32(pad_x1) * scale_x)
        pad_x2 = c_round(f32(pad_x2) * scale_x)
        pad_y1 = c_round(f32(pad_y1) * scale_y)
        pad_y2 = c_round(f32(pad_y2) * scale_y)
        pad_h = pad_y1
        pad_w = pad_x2 if do_mirror else pad_x1
        if pad_h + height > crop_size:
            height = crop_size - pad_h
        if pad_w + width > crop_size:
            width = crop_size - pad_w
    return (x1, y1, x2, y2), (width, height), (pad_h, pad_w)
