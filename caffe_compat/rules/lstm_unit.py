"""Caffe's LSTMUnitLayer rules (lstm_unit_layer.cpp), read by every engine: bottoms ``c_prev``
(1, N, H), the gate inputs (1, N, 4H: ``i, f, o, g``, H values each) and ``cont`` (1, N); tops
``c`` and ``h``, each of ``c_prev``'s shape. No parameters."""
from __future__ import annotations

from .refusal import refuse


def lstm_unit_top_shapes(layer, bottom_shapes, type_name=None):
    """The tops' shapes, refusing bottoms of other shapes than those above."""
    c_prev, x, cont = (tuple(s) for s in bottom_shapes)
    names = ("c_prev", "x (gate inputs)", "cont")
    for k, (name, shape) in enumerate(zip(names, (c_prev, x, cont))):
        want = 2 if k == 2 else 3
        if len(shape) != want:
            refuse(layer, f"bottom {k} ({name}) must have {want} axes, got shape {shape}", None,
                   type_name)
        if shape[0] != 1:
            refuse(layer, f"bottom {k} ({name}) must hold one time step (shape[0] == 1), got "
                   f"shape {shape}", None, type_name)
        if shape[1] != c_prev[1]:
            refuse(layer, f"bottom {k} ({name}) has {shape[1]} streams, c_prev has {c_prev[1]} "
                   f"(shapes {c_prev}, {x}, {cont})", None, type_name)
    if x[2] != 4 * c_prev[2]:
        refuse(layer, f"the gate input must have 4 * {c_prev[2]} = {4 * c_prev[2]} values per "
               f"stream (i, f, o, g), got shape {x}", None, type_name)
    return [c_prev, c_prev]
