"""BatchNorm: ``(x - mean) / sqrt(var + eps)`` per channel (axis 1), Caffe's BatchNormLayer.

Blobs: 0 = accumulated mean (C,), 1 = accumulated variance (C,), 2 = the moving-average scale
factor (1,); the statistics used are ``blob0 / blob2`` and ``blob1 / blob2`` (0 when blob 2 is 0).
``use_global_stats`` defaults to true in TEST and false in TRAIN. Without global stats the batch's
own mean and biased variance (over N and every axis after 1) normalise the input and the blobs
are updated in forward as Caffe does: ``blob2 = maf * blob2 + 1``, ``blob0 = maf * blob0 + mean``,
``blob1 = maf * blob1 + m / (m - 1) * var`` with ``m = count / C`` (unbiased only in the stored
variance). The blobs are statistics, not parameters: they never receive a gradient, and their
ParamSpecs get ``lr_mult: 0`` (a non-zero lr_mult is refused), as in Caffe.

``scale_bias: true`` (NVIDIA Caffe, in OpenCV's fork of the schema) adds two learned blobs,
3 = scale (C,) and 4 = bias (C,), applied after the normalization (``y * scale + bias``), as
OpenCV 4 dnn reads them (scale filled with 1 and bias with 0 by default).
"""
import torch

from ..rules.batch_norm import EXTENSIONS, FIELDS, batch_norm_rule
from ..rules.fields import declare
from .base import Layer
from .registry import register_layer


declare("torch", "BatchNorm", "BatchNormParameter", FIELDS | EXTENSIONS)


@register_layer("BatchNorm")
class BatchNorm(Layer):
    blob_names = ("mean", "variance", "scale_factor", "scale", "bias")
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = batch_norm_rule(param, self.bottom_shapes, phase)
        self.use_global_stats = rule.use_global_stats
        self.maf = rule.moving_average_fraction
        self.eps = rule.eps
        self.channels = rule.channels
        self.forward_writes_blobs = not self.use_global_stats   # the statistics it updates
        self.scale_bias = rule.scale_bias
        for name, shape in zip(self.blob_names, rule.param_shapes()):
            self.add_blob(name, shape)
        # Caffe masks the statistics from the solver: lr_mult 0 on each blob's ParamSpec.
        # (a non-zero lr_mult is refused by the rule)
        self.export_param(param)

    def filler_params(self):
        if not self.scale_bias:
            return [None, None, None]
        from ..proto import caffe_pb2
        return [None, None, None, caffe_pb2.FillerParameter(type="constant", value=1.0), None]

    def export_param(self, layer_param):
        """A saved definition carries the lr_mult 0 specs, as Caffe's SetUp leaves them."""
        while len(layer_param.param) < 3:
            layer_param.param.add().lr_mult = 0.0

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, x):
        if x.dim() < 2 or x.shape[1] != self.channels:
            self.fail(f"bottom shape {tuple(x.shape)} does not have {self.channels} channels")
        view = (1, self.channels) + (1,) * (x.dim() - 2)
        if self.use_global_stats:
            with torch.no_grad():
                s = self.scale_factor.detach()[0]
                factor = torch.where(s == 0, torch.zeros_like(s), 1.0 / s)
                mean = self.mean.detach() * factor
                var = self.variance.detach() * factor
            return self._affine((x - mean.reshape(view))
                                / torch.sqrt(var + self.eps).reshape(view), view)
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dim=dims)
        centered = x - mean.reshape(view)
        var = (centered * centered).mean(dim=dims)
        self._accumulate(mean.detach(), var.detach(), x.numel() // self.channels)
        return self._affine(centered / torch.sqrt(var + self.eps).reshape(view), view)

    def _affine(self, y, view):
        if not self.scale_bias:
            return y
        return y * self.scale.reshape(view) + self.bias.reshape(view)

    def _accumulate(self, mean, var, m):
        if mean.device.type == "meta":
            return
        correction = m / (m - 1) if m > 1 else 1.0
        with torch.no_grad():
            self.scale_factor.mul_(self.maf).add_(1.0)
            self.mean.mul_(self.maf).add_(mean)
            self.variance.mul_(self.maf).add_(var * correction)
