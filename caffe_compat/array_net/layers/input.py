"""Input: tops of the shapes its rule gives (:mod:`caffe_compat.rules.input`); the program
writes their values (Caffe's InputLayer forwards nothing)."""
from ...rules.fields import declare
from ...rules.input import FIELDS, input_rule
from ..registry import register
from .base import NoDiffLayer, need

declare("array", "Input", "InputParameter", FIELDS)


@register("Input")
class Input(NoDiffLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(not bottom_shapes and len(param.top), "Input with bottoms or without tops")
        self.shapes = list(input_rule(param).shapes)
        need(self.shapes, "Input without shapes")

    def top_shapes(self, bottom_shapes):
        return list(self.shapes)

    def forward(self, bottoms, tops, params):
        pass
