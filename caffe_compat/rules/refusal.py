"""The one form of a rule's refusal, shared by every engine."""
from __future__ import annotations

from ..errors import NetError


def refuse(layer, message, field=None, type_name=None):
    """Raise the :class:`NetError` of ``layer`` (a LayerParameter) for ``message``, as
    Caffe's ``CHECK`` in its LayerSetUp / Reshape would stop: the layer's name and type in the
    message, ``field`` (a dotted path, ``"pooling_param.pad"``) on the error so that readers
    point at its line. ``type_name`` stands for ``layer.type`` where an engine registered the
    rule under another of Caffe's names."""
    err = NetError(f"layer '{layer.name}' (type {type_name or layer.type}): {message}")
    err.field = field
    raise err
