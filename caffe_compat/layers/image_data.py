"""ImageData: batches of images named in a list file (Caffe 1.0's ImageDataLayer).

Each line of ``image_data_param.source`` is a path and an integer label, the label after the
line's LAST space. Images are read with OpenCV from ``root_folder + path`` (plain string
concatenation, as Caffe), in colour (``is_color``, 3 channels BGR) or grey, and resized to
``new_width x new_height`` with ``cv::resize``'s default INTER_LINEAR when both are set
(ReadImageToCVMat), then pass through the DataTransformer. With ``shuffle`` the lines are
shuffled with Caffe's Fisher-Yates and boost's uniform_int on the layer's own mt19937 (seeded
by a draw from the net's stream) at set-up and again each time the list wraps; ``rand_skip``
starts at line ``caffe_rng_rand() % rand_skip``. Both draws come from the net's stream in
Caffe's order (see :func:`caffe_compat.data.caffe_random.data_layer_setup_draws`).
"""
from __future__ import annotations

import os

import numpy as np

from ..parallel import data_parallel as parallel
from ..data.caffe_random import shuffle
from ..data.images import mat_to_chw, read_image, read_list_file
from ..errors import DataError
from ._prefetching import PrefetchingDataLayer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "ImageData", "ImageDataParameter",
        {"source", "batch_size", "rand_skip", "shuffle", "new_height", "new_width", "is_color",
         "root_folder"},
        no_effect=dict.fromkeys(("scale", "mean_file", "crop_size", "mirror"),
                                "Caffe 1.0's ImageDataLayer does not read it (a V1 net's "
                                "value moves to transform_param)"))


@register_layer("ImageData")
class ImageData(PrefetchingDataLayer):
    exact_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None, caffe_rng=None):
        super().__init__(param, bottom_shapes, phase, sources, caffe_rng)
        ip = param.image_data_param
        self.new_height, self.new_width = int(ip.new_height), int(ip.new_width)
        self.is_color = bool(ip.is_color)
        self.root_folder = ip.root_folder
        self.batch_size = int(ip.batch_size)
        self.source = source = self.source_path(ip.source)
        self.where = self.describe(source)
        if not ((self.new_height == 0 and self.new_width == 0)
                or (self.new_height > 0 and self.new_width > 0)):
            self.fail("new_height and new_width must be set together (Caffe's current "
                      "implementation requires both or neither)")
        if self.batch_size <= 0:
            self.fail("image_data_param.batch_size must be positive")
        if not source:
            self.fail("image_data_param.source is empty")
        lines = read_list_file(source, self.where)
        if not lines:
            raise DataError(f"{self.where}: the image list '{source}' is empty")
        self.shuffle = bool(ip.shuffle)
        self.rand_skip = int(ip.rand_skip)
        own = []
        if self.shuffle:
            own.append(lambda rng: rng.child())
        if self.rand_skip:
            own.append(lambda rng: rng.rand() % self.rand_skip)
        self.transformer, results = self.make_transformer(param.transform_param, own,
                                                          self.where)
        self.images = _ImageList(lines, self)
        if self.shuffle:
            self.images.prefetch_rng = results.pop(0)
            self.images.shuffle_lines()
        if self.rand_skip:
            skip = results.pop(0)
            if skip >= len(lines):
                raise DataError(f"{self.where}: rand_skip drew {skip}, but the list has only "
                                f"{len(lines)} images (not enough points to skip)")
            self.images.lines_id = skip
        img = self.images.read(self.images.lines_id)
        self.item_shape = self.transformer.output_shape(img.shape)
        mean = self.transformer.mean
        if mean is not None and mean.shape != img.shape:
            raise DataError(f"{self.where}: mean_file '{self.transformer.mean_file}' is "
                            f"{' x '.join(map(str, mean.shape))} (channels x height x width) "
                            f"but image '{self.images.lines[self.images.lines_id][0]}' is "
                            f"{' x '.join(map(str, img.shape))} after reading")

    def top_shapes(self, bottom_shapes):
        return [(self.batch_size,) + tuple(self.item_shape), (self.batch_size,)]

    def batch_source(self):
        return self.images


class _ImageList:
    """The list, its position and its shuffle generator: the prefetch thread's work."""

    def __init__(self, lines, layer):
        self.lines = lines
        self.line_numbers = list(range(1, len(lines) + 1))
        self.lines_id = 0
        self.prefetch_rng = None
        self.shuffle = layer.shuffle
        self.root_folder = layer.root_folder
        self.new_height, self.new_width = layer.new_height, layer.new_width
        self.is_color = layer.is_color
        self.batch_size = layer.batch_size
        self.transformer = layer.transformer
        self.name, self.source = layer.name, layer.source
        # data-parallel training: line k of the stream to rank k mod N (Caffe's Skip)
        self.rank, self.count = parallel.shard(layer.phase)
        self.offset = 0

    def shuffle_lines(self):
        order = list(range(len(self.lines)))
        shuffle(order, self.prefetch_rng)
        self.lines = [self.lines[i] for i in order]
        self.line_numbers = [self.line_numbers[i] for i in order]

    def where(self, index):
        return (f"layer '{self.name}' (type ImageData, image list "
                f"{self.source}:{self.line_numbers[index]})")

    def read(self, index):
        """The C x H x W pixels of list entry ``index`` (ReadImageToCVMat)."""
        path = self.root_folder + self.lines[index][0]
        img = read_image(path, self.new_height, self.new_width, self.is_color)
        if img is None:
            if not os.path.exists(path):
                hint = " (no such file" + ("; root_folder is prepended without a separator"
                                          if self.root_folder
                                          and not self.root_folder.endswith("/") else "") + ")"
            else:
                hint = " (not an image OpenCV can read)"
            raise DataError(f"{self.where(index)}: could not load image '{path}'{hint}")
        return mat_to_chw(img)

    def batches(self):
        tf = self.transformer
        n = len(self.lines)
        while True:
            data = labels = None
            for i in range(self.batch_size):
                while not parallel.keeps(self.offset, self.rank, self.count):
                    self._next_line(n)
                pixels = self.read(self.lines_id)
                if i == 0:   # the batch takes the shape of its first image
                    shape = tf.output_shape(pixels.shape)
                    data = np.empty((self.batch_size,) + shape, dtype=np.float32)
                    labels = np.empty((self.batch_size,), dtype=np.float32)
                tf.transform_chw(pixels, data[i], self.where(self.lines_id))
                labels[i] = self.lines[self.lines_id][1]
                self._next_line(n)
            yield data, labels

    def _next_line(self, n):
        self.offset += 1
        self.lines_id += 1
        if self.lines_id >= n:
            self.lines_id = 0
            if self.shuffle:
                self.shuffle_lines()

    def close(self):
        pass
