"""Caffe's PReLULayer rules (prelu_layer.cpp), read by every engine.

Parameters and defaults: ``channel_shared`` (false: one slope per channel, axis 1, a blob of
shape ``(C,)``; true: one slope for every element, a blob of shape ``()``), ``filler`` (the
slopes' filler; absent: constant 0.25). ``y = max(x, 0) + a * min(x, 0)``; backward counts
``x == 0`` as negative (``dx = a dy`` there, ``da += sum dy x`` over ``x <= 0``). Top shape:
the bottom's. Refusals, as Caffe's CHECKs: a bottom of fewer than 2 axes (LayerSetUp reads
``shape(1)`` unconditionally), a later bottom whose channels differ from the slopes'.
"""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"channel_shared"})
FILLERS = frozenset({"filler"})
DEFAULT_SLOPE = 0.25


@frozen
class PReLURule:
    layer: object
    channel_shared: bool
    channels: int

    def slope_shape(self):
        """``()`` when channel-shared, else ``(channels,)``."""
        return () if self.channel_shared else (self.channels,)

    def param_shapes(self):
        return [self.slope_shape()]

    def slope_view(self, ndim):
        """The slopes' broadcast view over a bottom of ``ndim`` axes (channels on axis 1)."""
        return () if self.channel_shared else (1, self.channels) + (1,) * (ndim - 2)

    def fillers(self):
        """The slopes' filler: the layer's message, or Caffe's default constant (a number)."""
        p = self.layer.prelu_param
        return [p.filler if p.HasField("filler") else DEFAULT_SLOPE]

    def for_bottoms(self, bottom_shapes):
        """This record where :func:`prelu_rule` gives it for ``bottom_shapes`` and refuses
        nothing: a first bottom of at least 2 axes and of this record's channels (what
        LayerSetUp reads of it); else None."""
        shape = bottom_shapes[0]
        return None if len(shape) < 2 or shape[1] != self.channels else self

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            refuse(self.layer, "the bottom needs at least 2 axes (N, C, ...), got shape "
                   f"{shape}")
        if not self.channel_shared and shape[1] != self.channels:
            refuse(self.layer, f"bottom shape {shape} does not match the {self.channels} slopes")
        return shape


def prelu_rule(layer, bottom_shapes):
    """The :class:`PReLURule` of ``layer`` for its first bottom's shape."""
    shape = tuple(int(d) for d in bottom_shapes[0])
    if len(shape) < 2:
        refuse(layer, f"the bottom needs at least 2 axes (N, C, ...), got shape {shape}")
    rule = PReLURule(layer, bool(layer.prelu_param.channel_shared), shape[1])
    rule.top_shape(shape)
    return rule
