"""Input's rule (``input_layer.cpp``), read by every engine and by the readers of a net's
declared inputs: ``input_param.shape`` gives no shape (the tops are shaped later), one shape
for every top, or one per top (InputLayer's CHECK refuses another count); a negative length is
refused. OpenCV's importer is laxer: :func:`opencv_shapes`."""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"shape"})


@frozen
class InputRule:
    layer: object
    shapes: tuple           # one per top; empty where the layer gives none


def _given(layer):
    return [tuple(int(d) for d in s.dim) for s in layer.input_param.shape]


def input_rule(layer):
    shapes, n = _given(layer), len(layer.top)
    if len(shapes) not in (0, 1, n):
        refuse(layer, f"input_param must give 0, 1 or {n} shapes (one per top), got "
               f"{len(shapes)}", "input_param.shape")
    if any(d < 0 for s in shapes for d in s):
        refuse(layer, f"negative dimension in input shapes {shapes}", "input_param.shape")
    return InputRule(layer, tuple(shapes * n if len(shapes) == 1 else shapes))


def opencv_shapes(layer):
    """The shape of each top as OpenCV's Caffe importer reads it: the k-th shape for the k-th
    top, else the first, else None."""
    shapes = _given(layer)
    return [shapes[k] if k < len(shapes) else (shapes[0] if shapes else None)
            for k in range(len(layer.top))]
