"""WindowData: R-CNN training windows (Caffe 1.0's WindowDataLayer).

Each batch holds ``batch_size - num_fg`` background windows, then ``num_fg =
int(float(batch_size) * fg_fraction)`` foreground ones, each drawn as ``windows[rng() %
count]`` on the layer's own mt19937, followed (with ``mirror``) by a mirror draw ``rng() %
2``. The window's image is read in colour (``cv::imread``, or decoded from the bytes cached
at set-up with ``cache_images``); the window, grown by ``context_pad`` (and made square with
``crop_mode: "square"``) and clipped to the image, is warped to its share of the
``crop_size`` square with ``cv::resize`` (INTER_LINEAR), mirrored, and pasted at its padding
offset into a zeroed crop; values are ``(pixel - mean) * window_data_param.scale`` with the
mean from ``transform_param`` (a mean_file is indexed from its centre crop). Labels are the
window classes (0 for background). See :mod:`caffe_compat.data.window_file` for the file.
"""
from __future__ import annotations

import numpy as np

from ..data.images import decode_image, imread, mat_to_chw
from ..data.window_file import read_window_file, window_geometry
from ..errors import DataError
from ._prefetching import PrefetchingDataLayer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "WindowData", "WindowDataParameter",
        {"source", "scale", "batch_size", "fg_threshold", "bg_threshold", "fg_fraction",
         "context_pad", "crop_mode", "cache_images", "root_folder"},
        no_effect=dict.fromkeys(("mean_file", "crop_size", "mirror"),
                                "Caffe 1.0's WindowDataLayer reads it from transform_param (a "
                                "V1 net's value moves there)"))


@register_layer("WindowData")
class WindowData(PrefetchingDataLayer):
    exact_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None, caffe_rng=None):
        super().__init__(param, bottom_shapes, phase, sources, caffe_rng)
        wp = param.window_data_param
        tp = param.transform_param
        self.source = source = self.source_path(wp.source)
        self.where = self.describe(source)
        self.batch_size = int(wp.batch_size)
        self.crop_size = int(tp.crop_size)
        self.mirror = bool(tp.mirror)
        self.context_pad = int(wp.context_pad)
        self.square = wp.crop_mode == "square"
        self.scale = np.float32(wp.scale)
        self.fg_fraction = np.float32(wp.fg_fraction)
        self.cache_images = bool(wp.cache_images)
        needs = self.mirror or self.crop_size > 0
        own = [lambda rng: rng.child()] if needs else []
        # the transformer is made (and draws) as in BaseDataLayer, but WindowData transforms
        # its windows itself
        self.transformer, results = self.make_transformer(tp, own, self.where)
        self.prefetch_rng = results[0] if needs else None
        if not source:
            self.fail("window_data_param.source is empty")
        self.images, self.fg, self.bg = read_window_file(
            source, wp.fg_threshold, wp.bg_threshold, wp.root_folder, self.where)
        self.cache = None
        if self.cache_images:
            self.cache = [self._read_bytes(path, line) for path, _, line in self.images]
        channels = self.images[-1][1][0]
        if self.crop_size <= 0:
            self.fail("transform_param.crop_size must be positive (the warped window size)")
        if self.batch_size <= 0:
            self.fail("window_data_param.batch_size must be positive")
        if channels != 3:
            raise DataError(f"{self.where}: the window file gives {channels} channels for its "
                            "last image; WindowData reads every image in colour (3 channels)")
        self.channels = channels
        if not self.fg or not self.bg:
            raise DataError(f"{self.where}: the window file has {len(self.fg)} foreground and "
                            f"{len(self.bg)} background windows; WindowData needs both (check "
                            "fg_threshold / bg_threshold)")
        self.mean = self.transformer.mean
        mv = self.transformer.mean_values
        if mv is not None:
            if len(mv) not in (1, channels):
                raise DataError(f"{self.where}: {len(mv)} mean_value given for {channels} "
                                "channels (give 1 or one per channel)")
            mv = np.repeat(mv, channels) if len(mv) == 1 else mv
        self.mean_values = mv
        if self.mean is not None:
            mc, mh, mw = self.mean.shape
            off = (mw - self.crop_size) // 2
            if mc != channels or off < 0 or off + self.crop_size > mh:
                raise DataError(f"{self.where}: mean_file '{self.transformer.mean_file}' is "
                                f"{mc} x {mh} x {mw}; WindowData indexes a {channels} x "
                                f"{self.crop_size} x {self.crop_size} crop from its centre")
        self.num_fg = int(np.float32(self.batch_size) * self.fg_fraction)

    def _read_bytes(self, path, line):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise DataError(f"{self.where}: '{self.source}' line {line}: cannot read image "
                            f"'{path}' for cache_images ({e.strerror or e})") from None

    def top_shapes(self, bottom_shapes):
        return [(self.batch_size, self.channels, self.crop_size, self.crop_size),
                (self.batch_size,)]

    def batch_source(self):
        return _WindowSampler(self)


class _WindowSampler:
    """The prefetch thread's work: draw windows, warp them, fill batches."""

    def __init__(self, layer):
        for name in ("where", "source", "images", "cache", "fg", "bg", "batch_size",
                     "num_fg", "channels", "crop_size", "context_pad", "square", "mirror",
                     "mean", "mean_values", "scale", "prefetch_rng"):
            setattr(self, name, getattr(layer, name))

    def close(self):
        pass

    def _image(self, index):
        import cv2    # on first use (importing OpenCV costs ~0.1 s)
        path, _, line = self.images[index]
        if self.cache is not None:
            img = decode_image(self.cache[index], cv2.IMREAD_COLOR)
        else:
            img = imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"{self.where}: '{self.source}' line {line}: could not open or "
                            f"decode image '{path}'")
        return img

    def _sample(self, out, window, do_mirror):
        """Warp ``window`` into ``out`` (C x crop x crop, zeros)."""
        img = self._image(window.image_index)
        rows, cols = img.shape[:2]
        (x1, y1, x2, y2), size, (pad_h, pad_w) = window_geometry(
            window, rows, cols, self.crop_size, self.context_pad, self.square, do_mirror)
        if not (0 <= x1 <= x2 < cols and 0 <= y1 <= y2 < rows) or min(size) <= 0:
            path, _, line = self.images[window.image_index]
            raise DataError(f"{self.where}: window ({window.x1}, {window.y1}, {window.x2}, "
                            f"{window.y2}) of image '{path}' (line {line} of "
                            f"'{self.source}') does not fit the {cols} x {rows} image")
        import cv2
        patch = cv2.resize(img[y1:y2 + 1, x1:x2 + 1], size, interpolation=cv2.INTER_LINEAR)
        if do_mirror:
            patch = cv2.flip(patch, 1)
        pix = mat_to_chw(patch).astype(np.float32)
        h, w = pix.shape[1:]
        region = (slice(None), slice(pad_h, pad_h + h), slice(pad_w, pad_w + w))
        if self.mean is not None:
            off = (self.mean.shape[2] - self.crop_size) // 2
            pix -= self.mean[:, off + pad_h:off + pad_h + h, off + pad_w:off + pad_w + w]
        elif self.mean_values is not None:
            pix -= self.mean_values[:, None, None]
        out[region] = pix * self.scale

    def batches(self):
        rng = self.prefetch_rng
        counts = (self.batch_size - self.num_fg, self.num_fg)
        while True:
            data = np.zeros((self.batch_size, self.channels, self.crop_size, self.crop_size),
                            dtype=np.float32)
            labels = np.empty((self.batch_size,), dtype=np.float32)
            item = 0
            for is_fg, pool in ((0, self.bg), (1, self.fg)):
                for _ in range(counts[is_fg]):
                    window = pool[rng.next() % len(pool)]
                    do_mirror = self.mirror and rng.next() % 2 != 0
                    self._sample(data[item], window, do_mirror)
                    labels[item] = window.label
                    item += 1
            yield data, labels

