"""Caffe's Im2colLayer rules (im2col_layer.cpp), read by every engine: the geometry of
``convolution_param`` as :mod:`.convolution` reads it (channel ``axis``, every later axis
spatial; ``num_output``, ``group`` and ``bias_term`` not read). Top shape: the bottom's with the
channel axis multiplied by the kernel size and each spatial axis its window positions
(:func:`~caffe_compat.rules.spatial.window_count`). Refusals, as Caffe's CHECKs: no spatial
axis, a non-positive kernel, stride or dilation, another number of spatial axes than the first
bottom's, a window longer than the padded input by a stride or more.
"""
from __future__ import annotations

import math

from . import convolution
from .convolution import Windows, canonical_axis, geometry
from .record import frozen
from .refusal import refuse
from .spatial import window_count

# the ConvolutionParameter fields this rule reads (every engine that reads it honours them)
FIELDS = convolution.FIELDS - {"num_output", "bias_term", "group"}
# the others: what they mean to every engine
NO_EFFECT = {**dict.fromkeys(("num_output", "bias_term", "group", "engine",
                              *convolution.FILLERS), "Caffe's Im2colLayer does not read it"),
             **convolution.ND_IM2COL}


@frozen
class Im2colRule(Windows):
    layer: object
    type_name: str
    axis: int
    kernel: tuple
    stride: tuple
    pad: tuple
    dilation: tuple

    def out_sizes(self, spatial):
        """The window positions along each spatial axis of the lengths ``spatial``."""
        return [window_count(int(d), self.pad[i], self.extent(i), self.stride[i])
                for i, d in enumerate(spatial)]

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if len(shape) != self.axis + 1 + self.n:
            refuse(self.layer, f"bottom shape {shape} does not have the {self.n} spatial axes "
                   "the layer was set up with", None, self.type_name)
        out = self.out_sizes(shape[self.axis + 1:])
        if any(d < 0 for d in out):
            refuse(self.layer, f"the kernel extent exceeds the padded input: output size {out} "
                   f"for bottom shape {shape}", None, self.type_name)
        channels = shape[self.axis] * math.prod(self.kernel)
        return shape[:self.axis] + (channels,) + tuple(out)


def im2col_rule(layer, bottom_shape, type_name=None):
    """The :class:`Im2colRule` of ``layer`` (a LayerParameter) for a bottom of
    ``bottom_shape``, refusing what Caffe's LayerSetUp and Reshape refuse."""
    cp = layer.convolution_param
    shape = tuple(int(d) for d in bottom_shape)
    axis = canonical_axis(layer, int(cp.axis), len(shape), type_name=type_name)
    n = len(shape) - axis - 1
    if n < 1:
        refuse(layer, f"needs at least one spatial axis after the channel axis {axis} "
               f"(bottom shape {shape})", None, type_name)
    kernel, stride, pad, dilation = geometry(layer, cp, n, type_name)
    for what, values in (("kernel dimensions", kernel), ("stride", stride),
                         ("dilation", dilation)):
        if any(v <= 0 for v in values):
            refuse(layer, f"{what} must be positive, got {values}", None, type_name)
    rule = Im2colRule(layer, type_name or layer.type, axis, tuple(kernel), tuple(stride),
                      tuple(pad), tuple(dilation))
    rule.top_shape(shape)
    return rule
