"""Helpers shared by the readers and the graph (no Caffe rule of their own): protobuf
messages, and the readers' info lines."""
from __future__ import annotations

import sys


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
    """The deprecated NetParameter fields ``net_param`` uses that the readers upgrade away:
    V0/V1 ``layers`` and top-level ``input`` blobs. (``input_dim`` / ``input_shape`` without
    ``input`` are left over by old tools; Caffe ignores them, and so does the graph.)"""
    return [name for name in ("layers", "input") if len(getattr(net_param, name))]


def info(logger, message, *args):
    """An info line on the logger named ``logger``; nothing where the program never imported
    logging (no handler can then take a line below logging's last-resort WARNING level)."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(logger).info(message, *args)
