"""pycaffe's ``caffe.Detector``: a TEST-phase net scoring image windows (R-CNN style), each
window cropped (with ``context_pad`` pixels of context, padded with the mean), warped to the
input size and pre-processed by a ``caffe.io.Transformer``."""
from __future__ import annotations

import numpy as np

from . import _mode, io
from ._net import Net


class Detector(Net):
    """``Detector(model_file, pretrained_file, mean=None, input_scale=None,
    raw_scale=None, channel_swap=None, context_pad=None)``."""

    def __init__(self, model_file, pretrained_file, mean=None, input_scale=None,
                 raw_scale=None, channel_swap=None, context_pad=None):
        super().__init__(model_file, _mode.TEST, weights=pretrained_file)
        self.transformer = io.net_transformer(self, mean, input_scale, raw_scale, channel_swap)
        self.configure_crop(context_pad)

    def detect_windows(self, images_windows):
        """[{"window", "prediction", "filename"}] for each (image file, windows) pair;
        windows are (ymin, xmin, ymax, xmax)."""
        images_windows = list(images_windows)
        crops = []
        for filename, windows in images_windows:
            image = io.load_image(filename).astype(np.float32)
            crops.extend(self.crop(image, w) for w in windows)
        in_ = self.inputs[0]
        net_in = np.zeros((len(crops), crops[0].shape[2]) + self.blobs[in_].data.shape[2:],
                          dtype=np.float32)
        for i, crop in enumerate(crops):
            net_in[i] = self.transformer.preprocess(in_, crop)
        predictions = self.forward_all(**{in_: net_in})[self.outputs[0]]
        windows = [(filename, w) for filename, ws in images_windows for w in ws]
        return [{"window": window, "prediction": prediction, "filename": filename}
                for (filename, window), prediction in zip(windows, predictions)]

    def detect_selective_search(self, image_fnames):
        raise NotImplementedError("Detector.detect_selective_search: the selective search "
                                  "proposal program (MATLAB) is not supported; compute windows "
                                  "and call detect_windows")

    def crop(self, im, window):
        """The window (ymin, xmin, ymax, xmax) of ``im``, with context when configured."""
        window = np.asarray(window)
        crop = im[window[0]:window[2], window[1]:window[3]]
        if not self.context_pad:
            return crop
        size = self.blobs[self.inputs[0]].width          # square inputs, as pycaffe assumes
        scale = size / (1.0 * size - self.context_pad * 2)
        half_h = (window[2] - window[0] + 1) / 2.0
        half_w = (window[3] - window[1] + 1) / 2.0
        centre = (window[0] + half_h, window[1] + half_w)
        box = np.round(np.tile(centre, 2) + scale * np.array((-half_h, -half_w, half_h, half_w)))
        scale_h = size / (box[2] - box[0] + 1)
        scale_w = size / (box[3] - box[1] + 1)
        pad_y = round(max(0, -box[0]) * scale_h)
        pad_x = round(max(0, -box[1]) * scale_w)
        im_h, im_w = im.shape[:2]
        box = np.clip(box, 0.0, [im_h, im_w, im_h, im_w])
        clip_h, clip_w = box[2] - box[0] + 1, box[3] - box[1] + 1
        if not (clip_h > 0 and clip_w > 0):
            raise ValueError(f"window {tuple(window)} lies outside the image")
        crop_h = min(round(clip_h * scale_h), size - pad_y)
        crop_w = min(round(clip_w * scale_w), size - pad_x)
        b = box.astype(int)
        context = io.resize_image(im[b[0]:b[2], b[1]:b[3]], (crop_h, crop_w))
        out = np.ones(self.crop_dims, dtype=np.float32) * self.crop_mean
        out[pad_y:pad_y + crop_h, pad_x:pad_x + crop_w] = context
        return out

    def configure_crop(self, context_pad):
        """Crop size from the input blob and, with ``context_pad``, the mean image used to
        pad context that falls outside the image."""
        in_ = self.inputs[0]
        t = self.transformer.transpose[in_]
        inverse = [t[i] for i in t]
        self.crop_dims = np.array(self.blobs[in_].data.shape[1:])[inverse]
        self.context_pad = context_pad
        if not context_pad:
            return
        mean = self.transformer.mean.get(in_)
        if mean is None:
            self.crop_mean = np.zeros(self.crop_dims, dtype=np.float32)
            return
        crop_mean = np.array(mean, dtype=np.float32).transpose(inverse)
        swap = self.transformer.channel_swap.get(in_)
        if swap is not None:
            crop_mean = crop_mean[:, :, [list(swap).index(i) for i in range(crop_mean.shape[2])]]
        raw = self.transformer.raw_scale.get(in_)
        if raw is not None:
            crop_mean /= raw
        self.crop_mean = crop_mean
