"""pycaffe's ``caffe.Classifier``: a TEST-phase net that takes H x W x K images, resizes them to
``image_dims``, takes the centre crop (or the ten crops of ``caffe.io.oversample``, whose
predictions are averaged), pre-processes them with a ``caffe.io.Transformer`` and returns the
first output blob per image."""
from __future__ import annotations

import numpy as np

from . import _mode, io
from ._net import Net


class Classifier(Net):
    """``Classifier(model_file, pretrained_file, image_dims=None, mean=None,
    input_scale=None, raw_scale=None, channel_swap=None)``."""

    def __init__(self, model_file, pretrained_file, image_dims=None, mean=None,
                 input_scale=None, raw_scale=None, channel_swap=None):
        super().__init__(model_file, _mode.TEST, weights=pretrained_file)
        self.transformer = io.net_transformer(self, mean, input_scale, raw_scale, channel_swap)
        in_ = self.inputs[0]
        self.crop_dims = np.array(self.blobs[in_].data.shape[2:])
        self.image_dims = self.crop_dims if not image_dims else image_dims

    def predict(self, inputs, oversample=True):
        """Predictions (N x classes) for ``inputs`` (iterable of H x W x K images)."""
        dims = np.asarray(self.image_dims)
        batch = np.zeros((len(inputs), dims[0], dims[1], inputs[0].shape[2]), dtype=np.float32)
        for i, image in enumerate(inputs):
            batch[i] = io.resize_image(image, dims)
        if oversample:
            batch = io.oversample(batch, self.crop_dims)
        else:
            centre = dims / 2.0
            box = (np.tile(centre, (1, 2))[0] + np.concatenate(
                [-self.crop_dims / 2.0, self.crop_dims / 2.0])).astype(int)
            batch = batch[:, box[0]:box[2], box[1]:box[3], :]
        in_ = self.inputs[0]
        net_in = np.zeros(np.array(batch.shape)[[0, 3, 1, 2]], dtype=np.float32)
        for i, crop in enumerate(batch):
            net_in[i] = self.transformer.preprocess(in_, crop)
        predictions = self.forward_all(**{in_: net_in})[self.outputs[0]]
        if oversample:
            predictions = predictions.reshape((len(predictions) // 10, 10, -1)).mean(1)
        return predictions
