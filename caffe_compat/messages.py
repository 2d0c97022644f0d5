"""Protobuf message helpers shared by the readers and the graph (no Caffe rule of their own)."""
from __future__ import annotations


def as_message(message, cls):
    """A ``cls`` copy of ``message``; messages of another Caffe schema (pycaffe's caffe_pb2)
    are converted through their binary encoding."""
    out = cls()
    if isinstance(message, cls):
        out.CopyFrom(message)
    elif getattr(getattr(message, "DESCRIPTOR", None), "name", None) == cls.DESCRIPTOR.name:
        out.ParseFromString(message.SerializePartialToString())
    else:
        raise TypeError(f"expected a {cls.DESCRIPTOR.name}, got {type(message).__name__}")
    return out


def legacy_net_fields(net_param):
    """The deprecated NetParameter fields ``net_param`` uses (V0/V1 ``layers``, top-level
    ``input`` / ``input_dim`` / ``input_shape``), which the readers upgrade away."""
    return [name for name in ("layers", "input", "input_dim", "input_shape")
            if len(getattr(net_param, name))]
