"""Caffe's DataTransformer (src/caffe/data_transformer.cpp), value for value.

For one image (a Datum's C x H x W pixels, or a decoded OpenCV image):

1. ``do_mirror = mirror && Rand(2)`` - the mirror draw comes first, and only when ``mirror``;
2. with ``crop_size``: in TRAIN ``h_off = Rand(H - crop + 1)`` then ``w_off = Rand(W - crop +
   1)``; in TEST the centre, ``(H - crop) / 2`` and ``(W - crop) / 2``;
3. every output value is ``(pixel - mean) * scale`` in float32 (``pixel * scale`` without a
   mean), where ``mean`` is the ``mean_file`` value at the pixel's source position (the mean
   has the image's full size and is cropped with it) or ``mean_value[c]`` (one value for all
   channels, or one per channel); mirroring reverses the columns of the cropped result.

``Rand(n)`` is ``rng() % n`` on the transformer's own mt19937 (see
:mod:`caffe_compat.data.caffe_random`). Encoded Datums are decoded first (``force_color`` /
``force_gray`` pick the decoding; neither: the file's own channels); the two paths of Caffe
(Datum and cv::Mat) compute the same values, so both go through :meth:`transform_chw`."""
from __future__ import annotations

import os
import warnings

import numpy as np

from ..errors import DataError
from ..io.caffemodel import blob_shape
from . import images


def legacy_shape(shape):
    """Blob::LegacyShape of axes 0..3 (num, channels, height, width): 1 past the last axis."""
    shape = tuple(shape)
    return None if len(shape) > 4 else shape + (1,) * (4 - len(shape))


def load_mean_file(path, where=""):
    """The mean of a ``.binaryproto`` (compute_image_mean's BlobProto) as a float32 C x H x W
    array, with Caffe's legacy num/channels/height/width reading of its shape."""
    from ..io.caffemodel import blob_to_array
    from ..proto import caffe_pb2
    path = os.fspath(path)
    label = f"{where}: mean_file '{path}'" if where else f"mean_file '{path}'"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{label} does not exist") from None
    except OSError as e:
        raise DataError(f"{label} cannot be read: {e.strerror or e}") from None
    blob = caffe_pb2.BlobProto()
    try:
        blob.ParseFromString(data)
    except Exception as e:  # noqa: BLE001 - DecodeError
        raise DataError(f"{label} is not a BlobProto ({type(e).__name__}: {e})") from None
    try:
        arr = blob_to_array(blob, where=label)
    except Exception as e:  # noqa: BLE001 - WeightsError with the reason
        raise DataError(str(e)) from None
    legacy = legacy_shape(blob_shape(blob))
    if legacy is None:
        raise DataError(f"{label} has {arr.ndim} axes {arr.shape}; a mean blob has at most 4")
    _, c, h, w = legacy
    flat = np.asarray(arr, dtype=np.float32).reshape(-1)
    if c * h * w == 0 or flat.size < c * h * w:
        raise DataError(f"{label} holds no mean image (shape {arr.shape})")
    return flat[:c * h * w].reshape(c, h, w)


class DataTransformer:
    """Caffe's DataTransformer for one layer: ``transform_chw(pixels)`` -> C x h x w float32.

    ``param``: the layer's TransformationParameter (or an object with the same fields);
    ``phase``: "TRAIN" or "TEST"; ``rng``: the transformer's mt19937 (None when Caffe would
    not make one: no mirror, and no crop in TRAIN); ``where``: the layer's description for
    errors."""

    def __init__(self, param, phase, rng=None, where="", mean_path=None):
        self.where = where
        self.phase = phase.upper()
        self.scale = np.float32(param.scale)
        self.mirror = bool(param.mirror)
        self.crop_size = int(param.crop_size)
        self.force_color = bool(param.force_color)
        self.force_gray = bool(param.force_gray)
        self.rng = rng
        self.mean = None
        self.mean_values = None
        has_mean_file = param.HasField("mean_file") if hasattr(param, "HasField") \
            else bool(param.mean_file)
        if has_mean_file and len(param.mean_value):
            raise DataError(f"{where}: cannot specify mean_file and mean_value at the same "
                            "time")
        if has_mean_file:
            self.mean_file = mean_path or param.mean_file
            self.mean = load_mean_file(self.mean_file, where)
        if len(param.mean_value):
            self.mean_values = np.asarray(list(param.mean_value), dtype=np.float32)
        if self.force_color and self.force_gray:
            raise DataError(f"{where}: cannot set both force_color and force_gray")
        self._warned_force = False

    @staticmethod
    def needs_rand(param, phase):
        """InitRand's test: a generator exists when mirroring or cropping in TRAIN."""
        return bool(param.mirror) or (phase.upper() == "TRAIN" and int(param.crop_size) > 0)

    def _rand(self, n):
        return self.rng.rand_mod(n)

    # ------------------------------------------------------------------ shapes
    def output_shape(self, shape):
        """InferBlobShape for an image of (C, H, W)."""
        c, h, w = shape
        if c <= 0:
            raise DataError(f"{self.where}: an image with {c} channels")
        if h < self.crop_size or w < self.crop_size:
            raise DataError(f"{self.where}: crop_size {self.crop_size} is larger than the "
                            f"{h} x {w} image")
        return (c, self.crop_size or h, self.crop_size or w)

    def datum_pixels(self, datum, where):
        """A Datum's C x H x W pixels as the transformer reads them (decoding encoded ones)."""
        if not datum.encoded and (self.force_color or self.force_gray) \
                and not self._warned_force:
            self._warned_force = True
            warnings.warn(f"{self.where}: force_color and force_gray only apply to encoded "
                          "Datums (Caffe logs the same)", stacklevel=2)
        return images.datum_array(datum, self.force_color, self.force_gray, where)

    # ------------------------------------------------------------------ transform
    def transform_chw(self, pixels, out, where=""):
        """Transform C x H x W ``pixels`` (uint8 or float32) into ``out`` (C x h x w float32,
        the shape :meth:`output_shape` gives), drawing as Caffe does."""
        c, h, w = pixels.shape
        oc, oh, ow = out.shape
        if oc != c:
            raise DataError(f"{where}: the image has {c} channels, the batch {oc} (every "
                            "image of a batch must have the first one's channels)")
        do_mirror = self.mirror and self._rand(2) != 0
        h_off = w_off = 0
        if self.crop_size:
            crop = self.crop_size
            if h < crop or w < crop:
                raise DataError(f"{where}: crop_size {crop} is larger than the {h} x {w} image")
            if self.phase == "TRAIN":
                h_off = self._rand(h - crop + 1)
                w_off = self._rand(w - crop + 1)
            else:
                h_off = (h - crop) // 2
                w_off = (w - crop) // 2
        elif (h, w) != (oh, ow):
            raise DataError(f"{where}: the image is {h} x {w}, the batch {oh} x {ow} (without "
                            "crop_size every image of a batch must have the first one's size)")
        window = (slice(None), slice(h_off, h_off + oh), slice(w_off, w_off + ow))
        values = pixels[window].astype(np.float32)
        if self.mean is not None:
            if self.mean.shape != (c, h, w):
                raise DataError(f"{where}: the mean of '{self.mean_file}' is "
                                f"{' x '.join(map(str, self.mean.shape))} (channels x height "
                                f"x width) but the image is {c} x {h} x {w}; the mean must "
                                "have the images' full (uncropped) size")
            np.subtract(values, self.mean[window], out=values)
        elif self.mean_values is not None:
            mv = self.mean_values
            if len(mv) == 1:
                mv = np.repeat(mv, c)
            elif len(mv) != c:
                raise DataError(f"{where}: {len(mv)} mean_value given for a {c}-channel image "
                                "(give either 1 mean_value or one per channel)")
            np.subtract(values, mv[:, None, None], out=values)
        if self.scale != 1:
            np.multiply(values, self.scale, out=values)
        if do_mirror:
            values = values[:, :, ::-1]
        out[...] = values
        return do_mirror, h_off, w_off
