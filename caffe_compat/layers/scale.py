"""Scale: ``top = bottom * s (+ b)`` with ``s`` broadcast over the bottom axes
``[axis, axis + ndim(s))``.

``s`` is the second bottom, or a learned blob of shape ``bottom.shape[axis : axis + num_axes]``
(``axis`` default 1, ``num_axes`` default 1, -1 = to the end, 0 = a scalar) filled by
``scale_param.filler`` (default: constant 1, the identity). With ``bias_term`` a learned bias of
the same placement follows (filled by ``bias_filler``, default constant 0); with a second bottom
its shape spans ``ndim(bottom 1)`` axes. Blob order: scale (when learned), then bias.
"""
from ..proto import caffe_pb2
from .base import Layer
from .bias import broadcast_shape, learned_shape
from .registry import register_layer


@register_layer("Scale")
class Scale(Layer):
    blob_names = ("scale", "bias")
    min_bottoms = 1
    max_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        sp = param.scale_param
        shape = self.bottom_shapes[0]
        if len(self.bottom_shapes) == 1:
            self.add_blob("scale", learned_shape(self, shape, sp.axis, sp.num_axes, "scale"))
        self.bias_term = sp.bias_term
        if self.bias_term:
            n = len(self.bottom_shapes[1]) if len(self.bottom_shapes) > 1 else sp.num_axes
            self.add_blob("bias", learned_shape(self, shape, sp.axis, n, "bias"))
        self.top_shapes(self.bottom_shapes)

    def filler_params(self):
        sp = self.param.scale_param
        out = []
        if len(self.bottom_shapes) == 1:
            if sp.HasField("filler"):
                out.append(sp.filler)
            else:
                out.append(caffe_pb2.FillerParameter(type="constant", value=1.0))
        if self.bias_term:
            out.append(sp.bias_filler)
        return out

    def top_shapes(self, bottom_shapes):
        axis = self.param.scale_param.axis
        s_shape = bottom_shapes[1] if len(bottom_shapes) > 1 else tuple(self.scale.shape)
        broadcast_shape(self, bottom_shapes[0], axis, s_shape, "scale")
        if self.bias_term:
            broadcast_shape(self, bottom_shapes[0], axis, tuple(self.bias.shape), "bias")
        return [tuple(bottom_shapes[0])]

    def forward(self, x, s=None):
        axis = self.param.scale_param.axis
        s = self.scale if s is None else s
        top = x * s.reshape(broadcast_shape(self, tuple(x.shape), axis, tuple(s.shape), "scale"))
        if self.bias_term:
            b = self.bias
            top = top + b.reshape(broadcast_shape(self, tuple(x.shape), axis, tuple(b.shape),
                                                  "bias"))
        return top
