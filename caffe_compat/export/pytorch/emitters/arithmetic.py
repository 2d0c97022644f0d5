"""Eltwise, Scale, Bias and Softmax.

Eltwise SUM keeps each bottom's ``coeff`` (``c0 * a + c1 * b``), PROD is the product, MAX the
helper ``eltwise_max`` (Caffe's tie rule). Scale and Bias multiply / add their blob (learned:
an ``nn.ParameterDict`` in Caffe's shape; or the second bottom) broadcast over the bottom's axes
``[axis, axis + ndim(blob))``. Softmax is ``torch.softmax`` over Caffe's axis.
"""
from ....proto import caffe_pb2
from ....layers.base import canonical_axis
from ..codegen import literal
from ....rules import bias as bias_rules
from ....rules import eltwise as eltwise_rules
from ....rules import scale as scale_rules
from ....rules.fields import ENGINE_FIELD, declare
from ..registry import register_emitter

declare("pytorch-source", "Eltwise", "EltwiseParameter", eltwise_rules.FIELDS)
# the net's weights are written (its fillers ran when it was built)
declare("pytorch-source", "Scale", "ScaleParameter", scale_rules.FIELDS,
        no_effect=dict.fromkeys(scale_rules.FILLERS, "the net's weights are written"))
declare("pytorch-source", "Bias", "BiasParameter", bias_rules.FIELDS,
        no_effect={"filler": "the net's weights are written"})
declare("pytorch-source", "Softmax", "SoftmaxParameter", {"axis"}, no_effect=ENGINE_FIELD)

OP = caffe_pb2.EltwiseParameter


@register_emitter("Eltwise")
def eltwise(e):
    m = e.module
    if m.op == OP.SUM:
        terms = [b if c == 1.0 else f"{literal(c)} * {b}" for c, b in zip(m.coeffs, e.bottoms)]
        return " + ".join(terms).replace("+ -1.0 * ", "- ")
    if m.op == OP.PROD:
        return " * ".join(e.bottoms)
    return f"{e.helper('eltwise_max')}({', '.join(e.bottoms)})"


def _view(e, operand, blob_shape, axis_param):
    """``operand`` reshaped to broadcast against bottom 0 from ``axis_param`` on."""
    ndim = len(e.bottom_shapes[0])
    if len(blob_shape) == 0:
        return operand
    axis = canonical_axis(axis_param, ndim, e.name)
    trailing = ndim - axis - len(blob_shape)
    if trailing == 0:
        return operand
    if operand.startswith("self."):        # a parameter: its shape is known
        return f"{operand}.view{literal(tuple(blob_shape) + (1,) * trailing)}"
    return f"{operand}.reshape({operand}.shape + {literal((1,) * trailing)})"


@register_emitter("Scale")
def scale(e):
    m = e.module
    axis = m.rule.axis_param
    x = e.bottoms[0]
    weights = {}
    if len(e.bottoms) == 1:
        weights["weight"] = e.weight(m.scale, 0)
    if m.bias_term:
        weights["bias"] = e.weight(m.bias, len(weights))
    attr = e.parameters(**weights) if weights else None
    s = f"{attr}.weight" if len(e.bottoms) == 1 else e.bottoms[1]
    s_shape = tuple(m.scale.shape) if len(e.bottoms) == 1 else e.bottom_shapes[1]
    out = f"{x} * {_view(e, s, s_shape, axis)}"
    if m.bias_term:
        out += f" + {_view(e, f'{attr}.bias', tuple(m.bias.shape), axis)}"
    return out


@register_emitter("Bias")
def bias(e):
    m = e.module
    x = e.bottoms[0]
    axis = m.rule.axis_param
    if len(e.bottoms) == 2:
        return f"{x} + {_view(e, e.bottoms[1], e.bottom_shapes[1], axis)}"
    attr = e.parameters(bias=e.weight(m.bias, 0))
    return f"{x} + {_view(e, f'{attr}.bias', tuple(m.bias.shape), axis)}"


@register_emitter("Softmax")
def softmax(e):
    return f"torch.softmax({e.bottoms[0]}, {e.module.axis})"
