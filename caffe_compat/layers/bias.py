"""Bias: ``top = bottom + b`` with ``b`` broadcast over the bottom axes ``[axis, axis + ndim(b))``.

``b`` is the second bottom, or a learned blob of shape ``bottom.shape[axis : axis + num_axes]``
(``num_axes`` default 1, -1 = to the end, 0 = a scalar) filled by ``bias_param.filler`` (default
constant 0). ``axis`` defaults to 1; a scalar ``b`` ignores it, as in Caffe.
"""
from .base import Layer, canonical_axis
from .registry import register_layer


def broadcast_shape(layer, shape, axis_param, b_shape, what):
    """The view of a ``b_shape`` operand aligned with ``shape`` at ``axis_param`` (Caffe's rule
    shared by Bias and Scale), with the checks Caffe makes."""
    if len(b_shape) == 0:
        return (1,) * len(shape)
    axis = canonical_axis(axis_param, len(shape), layer.name)
    if axis + len(b_shape) > len(shape):
        layer.fail(f"{what} shape {tuple(b_shape)} extends past the bottom shape {tuple(shape)} "
                   f"when applied from axis {axis}")
    for i, d in enumerate(b_shape):
        if shape[axis + i] != d:
            layer.fail(f"{what} shape {tuple(b_shape)} does not match bottom shape "
                       f"{tuple(shape)} at axis {axis + i}")
    return (1,) * axis + tuple(b_shape) + (1,) * (len(shape) - axis - len(b_shape))


def learned_shape(layer, shape, axis_param, num_axes, what):
    """Shape of a learned Bias/Scale blob: ``shape[axis : axis + num_axes]``."""
    axis = canonical_axis(axis_param, len(shape), layer.name)
    if num_axes < -1:
        layer.fail(f"num_axes must be non-negative, or -1 to extend to the end, got {num_axes}")
    if num_axes >= 0 and axis + num_axes > len(shape):
        layer.fail(f"{what} blob's shape extends past the bottom shape {tuple(shape)} "
                   f"(axis {axis}, num_axes {num_axes})")
    return tuple(shape[axis:]) if num_axes == -1 else tuple(shape[axis:axis + num_axes])


@register_layer("Bias")
class Bias(Layer):
    blob_names = ("bias",)
    min_bottoms = 1
    max_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        bp = param.bias_param
        if len(self.bottom_shapes) == 1:
            self.add_blob("bias", learned_shape(self, self.bottom_shapes[0], bp.axis,
                                                bp.num_axes, "bias"))
        self.top_shapes(self.bottom_shapes)

    def filler_params(self):
        return [self.param.bias_param.filler] if self.blobs else []

    def top_shapes(self, bottom_shapes):
        b_shape = bottom_shapes[1] if len(bottom_shapes) > 1 else tuple(self.bias.shape)
        broadcast_shape(self, bottom_shapes[0], self.param.bias_param.axis, b_shape, "bias")
        return [tuple(bottom_shapes[0])]

    def forward(self, x, b=None):
        b = self.bias if b is None else b
        view = broadcast_shape(self, tuple(x.shape), self.param.bias_param.axis,
                               tuple(b.shape), "bias")
        return x + b.reshape(view)
