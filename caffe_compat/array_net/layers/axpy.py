"""Axpy (:mod:`caffe_compat.rules.axpy`): ``a * X + Y`` in float32 (the product, then the sum, as
the fork's CPU loop). Forward only: a backward asked of it goes to the torch engine."""
import numpy as np

from ...rules.axpy import axpy_top_shape
from ..registry import register
from .base import ArrayLayer, need


@register("Axpy")
class Axpy(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(param.top) == 1, "Axpy of one top")
        axpy_top_shape(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [axpy_top_shape(self.param, bottom_shapes)]

    def forward(self, bottoms, tops, params):
        a, x, y = bottoms
        scale = a.reshape(a.shape[:2] + (1,) * (x.ndim - 2))
        np.multiply(scale, x, out=tops[0])
        tops[0] += y
