"""Layer signatures: the layers of a net that hold parameters, their types and blob shapes.

A caffemodel is identified, and matched against a net definition, by its signature: for every
layer with blobs, ``(name, type, blob shapes)``. Loading follows Caffe's rule (blobs are copied
by layer name; file layers unknown to the net are ignored, net layers absent from the file keep
their filler values), so :func:`compare_signatures` lists exactly what would go wrong::

    from caffe_compat.net.signature import layer_signature, check_compatible
    check_compatible("deploy.prototxt", "weights.caffemodel")   # IncompatibleWeightsError or None
"""
from __future__ import annotations

import os
from typing import NamedTuple

from ..errors import WeightsError
from ..io import caffemodel as caffemodel_io
from ..proto import caffe_pb2
from ..rules.input import input_rule

__all__ = ["LayerSignature", "IncompatibleWeightsError", "layer_signature", "net_signature",
           "compare_signatures", "shapes_match", "input_shapes", "check_compatible",
           "signature_to_json", "signature_from_json", "format_shape"]


class LayerSignature(NamedTuple):
    """One layer with parameters: its name, type and blob shapes (Caffe's order)."""
    name: str
    type: str
    shapes: tuple


class IncompatibleWeightsError(WeightsError):
    """A caffemodel whose layers do not fit a net definition; ``problems`` lists each one."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


def format_shape(shape):
    """``(64, 1, 5, 5)`` -> ``'64x1x5x5'`` (``'scalar'`` for a 0-d blob)."""
    return "x".join(str(int(d)) for d in shape) or "scalar"


def _from_net_param(net_param):
    return tuple(LayerSignature(name, kind, tuple(tuple(int(d) for d in a.shape) for a in arrays))
                 for name, kind, arrays in caffemodel_io.layer_blobs(net_param) if arrays)


def net_signature(net):
    """The signature of a built :class:`caffe_compat.Net` (its parameter shapes)."""
    types = {node.name: node.type for node in net.graph.layers}
    return tuple(LayerSignature(name, types.get(name, "?"),
                                tuple(tuple(int(d) for d in p.shape) for p in blobs))
                 for name, blobs in net.params.items())


def layer_signature(source, phase="test"):
    """The signature of a caffemodel path, a NetParameter, a built Net, or a net prototxt.

    A prototxt (or a NetParameter without blobs, e.g. a parsed definition) is built as a net in
    ``phase`` to get its parameter shapes; a caffemodel's blobs are read as stored."""
    from .core import Net, load_net_param
    if isinstance(source, Net):
        return net_signature(source)
    if isinstance(source, caffe_pb2.NetParameter):
        if any(len(lp.blobs) for lp in source.layer) or any(len(lp.blobs)
                                                            for lp in source.layers):
            return _from_net_param(source)
        return net_signature(Net(source, phase=phase))
    path = os.fspath(source)
    data = caffemodel_io.read_binary_file(path, what="caffemodel or prototxt")
    if caffemodel_io.looks_like_text(data):
        return net_signature(Net(load_net_param(path), phase=phase))
    return _from_net_param(caffemodel_io.parse_caffemodel(data, source=path))


def shapes_match(expected, actual):
    """Caffe's Blob::ShapeEquals, symmetric: equal shapes, or a legacy 4-axis blob
    (num, channels, height, width) that equals the other shape padded with leading ones."""
    expected, actual = tuple(expected), tuple(actual)
    if expected == actual:
        return True
    if len(expected) <= 4 and len(actual) <= 4:
        pad = lambda s: (1,) * (4 - len(s)) + s  # noqa: E731
        return pad(expected) == pad(actual) and 4 in (len(expected), len(actual))
    return False


def compare_signatures(expected, actual, expected_label="the net", actual_label="the file"):
    """What goes wrong when ``actual`` (a caffemodel) is loaded into ``expected`` (a net).

    Returns ``(problems, ignored)``: ``problems`` are lines for each missing layer, blob count
    and blob shape mismatch and changed layer type; ``ignored`` names file layers the net does
    not have (Caffe ignores them, as when a classifier is initialised from an SR net)."""
    have = {s.name: s for s in actual}
    want = {s.name for s in expected}
    problems = []
    for layer in expected:
        got = have.get(layer.name)
        if got is None:
            problems.append(f"layer '{layer.name}' ({layer.type}, "
                            f"{', '.join(format_shape(s) for s in layer.shapes)}) is missing from "
                            f"{actual_label}; it would keep its filler values")
            continue
        if got.type != layer.type:
            problems.append(f"layer '{layer.name}': {expected_label} has type {layer.type}, "
                            f"{actual_label} has {got.type}")
        if len(got.shapes) != len(layer.shapes):
            problems.append(f"layer '{layer.name}': {actual_label} has {len(got.shapes)} "
                            f"blob(s), {expected_label} expects {len(layer.shapes)}")
            continue
        for j, (e, a) in enumerate(zip(layer.shapes, got.shapes)):
            if not shapes_match(e, a):
                problems.append(f"layer '{layer.name}' blob {j}: {actual_label} has "
                                f"{format_shape(a)}, {expected_label} expects {format_shape(e)}")
    ignored = [s.name for s in actual if s.name not in want]
    return problems, ignored


def input_shapes(net_param):
    """``{blob: shape}`` of the inputs a net (or a caffemodel saved from one) declares: Input
    layers and the legacy ``input`` / ``input_dim`` / ``input_shape`` fields."""
    out = {}
    for lp in net_param.layer:
        if lp.type == "Input":
            out.update((top, shape) for top, shape in zip(lp.top, input_rule(lp).shapes))
    dims = list(net_param.input_dim)
    for k, name in enumerate(net_param.input):
        if k < len(net_param.input_shape):
            out[name] = tuple(int(d) for d in net_param.input_shape[k].dim)
        elif len(dims) >= 4 * (k + 1):
            out[name] = tuple(int(d) for d in dims[4 * k:4 * k + 4])
    return out


def check_compatible(model, weights, phase="test", name=None):
    """Raise :class:`IncompatibleWeightsError` unless every parameter layer of net ``model``
    (prototxt path, text, NetParameter or Net) is in ``weights`` (caffemodel path or
    NetParameter; ``name`` labels it in messages) with its type and blob shapes. Returns the
    file layers that would be ignored."""
    from .core import Net
    net = model if isinstance(model, Net) else Net(model, phase=phase)
    label = getattr(net, "source", "<net>")
    where = weights if isinstance(weights, caffe_pb2.NetParameter) else os.fspath(weights)
    actual = layer_signature(weights)
    problems, ignored = compare_signatures(net_signature(net), actual,
                                           expected_label=f"the net ({os.path.basename(label)})",
                                           actual_label="the weights file")
    if problems:
        if name is None:
            name = "<NetParameter>" if isinstance(where, caffe_pb2.NetParameter) else where
        raise IncompatibleWeightsError(
            f"{name}: these weights do not fit the net '{net.name}' of {label} "
            f"({len(problems)} problem(s)):\n  " + "\n  ".join(problems), problems)
    return ignored


def signature_to_json(signature):
    """A JSON-ready list: ``[{"name", "type", "blobs": [[dims], ...]}, ...]``."""
    return [{"name": s.name, "type": s.type, "blobs": [list(shape) for shape in s.shapes]}
            for s in signature]


def signature_from_json(items, where="<json>"):
    """The inverse of :func:`signature_to_json`; WeightsError naming ``where`` if malformed."""
    try:
        return tuple(LayerSignature(str(item["name"]), str(item["type"]),
                                    tuple(tuple(int(d) for d in b) for b in item["blobs"]))
                     for item in items)
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"{where}: malformed layer signature ({e!r}); expected a list of "
                           "{name, type, blobs: [[dims], ...]}") from None
