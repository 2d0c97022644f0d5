"""Caffe's InnerProductLayer rules (inner_product_layer.cpp), read by every engine.

Parameters and defaults: ``num_output`` (required, positive), ``bias_term`` (true), ``axis``
(1; negative from the end: the axes from it on are joined into ``K`` inputs per row),
``transpose`` (false: weights ``(num_output, K)``; true: ``(K, num_output)``), the fillers.
Top shape: the bottom's axes before ``axis``, then ``num_output``. Refusals, as Caffe's
CHECKs: an axis out of range, a bottom whose ``K`` differs from the weights'.
"""
from __future__ import annotations

import math
from .convolution import ConvolutionRule, canonical_axis
from .record import frozen
from .refusal import refuse

_SECTION = "inner_product_param"

# the InnerProductParameter fields this rule reads (every engine that reads it honours them)
FIELDS = frozenset({"num_output", "bias_term", "axis", "transpose"})
FILLERS = frozenset({"weight_filler", "bias_filler"})


@frozen
class InnerProductRule:
    layer: object
    axis: int
    k: int
    num_output: int
    bias_term: bool
    transpose: bool

    def weight_shape(self):
        return (self.k, self.num_output) if self.transpose else (self.num_output, self.k)

    param_shapes = ConvolutionRule.param_shapes      # the weights, then the bias if any

    def fillers(self):
        """The FillerParameter of each parameter blob (weights, then the bias if any)."""
        p = self.layer.inner_product_param
        return [p.weight_filler, p.bias_filler][:len(self.param_shapes())]

    def for_bottoms(self, bottom_shapes):
        """This record where :func:`inner_product_rule` gives it for ``bottom_shapes`` and
        refuses nothing: LayerSetUp reads of the first bottom its axis (``axis`` canonical
        for its number of axes) and ``K``, the product of the lengths from that axis on; a
        bottom of another canonical axis or ``K`` gives None."""
        shape = bottom_shapes[0]
        axis = int(self.layer.inner_product_param.axis)
        if axis < 0:
            axis += len(shape)
        if axis != self.axis or axis >= len(shape) or math.prod(shape[axis:]) != self.k:
            return None
        return self

    def top_shape(self, shape):
        """The top of a bottom of ``shape``; a ``K`` other than the weights' is refused."""
        shape = tuple(int(d) for d in shape)
        k = math.prod(shape[self.axis:])
        if k != self.k:
            refuse(self.layer, f"input size {k} (shape {shape} from axis {self.axis}) does "
                   f"not match the weights' K = {self.k}")
        return shape[:self.axis] + (self.num_output,)


def inner_product_rule(layer, bottom_shapes):
    """The :class:`InnerProductRule` of ``layer`` for its first bottom's shape."""
    p = layer.inner_product_param
    shape = tuple(int(d) for d in bottom_shapes[0])
    axis = canonical_axis(layer, int(p.axis), len(shape), field=f"{_SECTION}.axis")
    num_output = int(p.num_output)
    if num_output <= 0:
        refuse(layer, "num_output must be positive", f"{_SECTION}.num_output")
    return InnerProductRule(layer, axis, math.prod(shape[axis:]), num_output,
                            bool(p.bias_term), bool(p.transpose))


def label_fields(layer):
    """``(num_output,)`` as given, unchecked: what pycaffe's drawing labels a layer's tops
    with."""
    return (int(layer.inner_product_param.num_output),)
