"""Normalize (SSD's NormalizeBBox): L2-normalize each item and multiply by a learned scale; OpenCV
4 dnn's NormalizeBBoxLayer with Caffe's parameters.

``across_spatial: true`` (default) divides each item by ``sqrt(sum(x^2) + eps)`` over all its
values; ``false`` divides every spatial position by ``sqrt(sum_c(x^2) + eps)`` over the channels.
``eps`` defaults to 1e-10 and is added to the sum of squares, as in SSD's Caffe and OpenCV.
The scale blob has one value (``channel_shared: true``, default) or one per channel, filled by
``scale_filler`` (default constant 1). OpenCV's dnn refuses a per-channel scale together with
``across_spatial: true``; SSD's Caffe (and this layer) multiply channel by channel.
Registered as Normalize and NormalizeBBox (OpenCV's two names). Backward: autograd.
"""
import torch

from ..proto import caffe_pb2
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        {"across_spatial", "scale_filler", "channel_shared", "eps"})


@register_layer("Normalize")
class Normalize(Layer):
    blob_names = ("scale",)
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        p = param.norm_param
        shape = self.bottom_shapes[0]
        if len(shape) < 2:
            self.fail(f"input must have at least 2 axes (num, channels, ...), got {shape}")
        self.across_spatial = p.across_spatial
        self.eps = float(p.eps)
        self.channel_shared = p.channel_shared
        self.add_blob("scale", (1,) if self.channel_shared else (shape[1],))

    def filler_params(self):
        p = self.param.norm_param
        if p.HasField("scale_filler"):
            return [p.scale_filler]
        return [caffe_pb2.FillerParameter(type="constant", value=1.0)]

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if not self.channel_shared and shape[1] != self.scale.shape[0]:
            self.fail(f"the scale has {self.scale.shape[0]} channels, the input {shape[1]}")
        return [shape]

    def forward(self, x):
        squares = x * x
        if self.across_spatial:
            total = squares.reshape(x.shape[0], -1).sum(1)
            norm = torch.sqrt(total + self.eps).reshape((-1,) + (1,) * (x.dim() - 1))
        else:
            norm = torch.sqrt(squares.sum(1, keepdim=True) + self.eps)
        y = x / norm
        if self.channel_shared:
            return y * self.scale[0]
        return y * self.scale.reshape((1, -1) + (1,) * (x.dim() - 2))


@register_layer("NormalizeBBox")
class NormalizeBBox(Normalize):
    """OpenCV's second name for Normalize."""
