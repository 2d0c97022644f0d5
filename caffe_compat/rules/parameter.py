"""Parameter's rule (``parameter_layer.hpp``), read by every engine: no bottoms; its one top is
its one parameter blob, of ``parameter_param.shape`` (required; zeros unless weights are
loaded: Caffe uses no filler here). Refused: no shape, a negative dimension."""
from __future__ import annotations

from .refusal import refuse

FIELDS = frozenset({"shape"})


def parameter_shape(layer):
    """The blob's (and the top's) shape."""
    pp = layer.parameter_param
    if not pp.HasField("shape"):
        refuse(layer, "parameter_param { shape { dim: ... } } is required",
               "parameter_param.shape")
    shape = tuple(int(d) for d in pp.shape.dim)
    if any(d < 0 for d in shape):
        refuse(layer, f"negative dimension in parameter_param.shape {shape}",
               "parameter_param.shape")
    return shape
