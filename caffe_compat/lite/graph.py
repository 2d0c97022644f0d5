"""A Caffe net (the layers ``caffe_compat.dnn`` runs, with their caffemodel arrays) written as
an ONNX model for the input shapes given, plus the numpy steps that run after it.

:func:`build` walks the layers that the outputs asked for need, in order, and hands each to
its converter (:mod:`caffe_compat.lite.converters`): shapes are known at every step, so
converters write fixed shapes and compute shape-only layers (PriorBox) as constants. Layers
whose results depend on the data in ways ONNX does not express as Caffe computes them
(DetectionOutput's NMS and top-k) are numpy steps run on the ONNX outputs they read.
"""
from __future__ import annotations

import sys

import numpy as np

from . import onnx_wire
from .converters import Unsupported, converter, host_converter


class Value:
    """A blob while the graph is written: its ONNX name (None for a constant not yet
    written), its shape, and its array when it is a constant (known without running)."""

    __slots__ = ("name", "shape", "const", "host")

    def __init__(self, name, shape, const=None, host=False):
        self.name, self.shape, self.const, self.host = name, tuple(int(d) for d in shape), \
            const, host


class Graph:
    """The nodes and initializers written so far; names are made unique here."""

    # float initializers of more values than this go to the runtime apart from the model's
    # bytes when it takes them (onnx_wire.external_tensor)
    EXTERNAL_MIN = 1 << 14

    def __init__(self, external=False, source=None):
        self.nodes, self.initializers, self._count = [], [], 0
        self.external = {} if external else None      # name -> array given apart
        # a caffemodel's bytes whose large arrays the model may refer to (FileSource), and
        # those references: {initializer index: onnx_wire.linked_tensor}
        self.source, self.linked = source, {}

    def fresh(self, hint="v"):
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, array, hint="c"):
        """An initializer holding ``array`` (float32, or int64 for integer arrays); its name."""
        array = np.asarray(array)
        array = array.astype(np.int64 if array.dtype.kind in "iub" else np.float32, copy=False)
        name = self.fresh(hint)
        if self.external is not None and array.dtype == np.float32 and \
                array.size >= self.EXTERNAL_MIN:
            self.external[name] = np.ascontiguousarray(array)
            self.initializers.append(onnx_wire.external_tensor(name, array))
        else:
            if self.source is not None and array.size >= self.EXTERNAL_MIN:
                offset = self.source.offset_of(array)
                if offset is not None:
                    self.linked[len(self.initializers)] = onnx_wire.linked_tensor(
                        name, array.shape, FileSource.LINK, offset, array.nbytes)
            self.initializers.append(onnx_wire.tensor(name, array))
        return name

    def linked_initializers(self):
        """The initializers with those held by the source file referred to, not written."""
        return [self.linked.get(k, t) for k, t in enumerate(self.initializers)]


    def constant(self, array):
        """A Value that is a constant (written as an initializer only if a node reads it)."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        return Value(None, array.shape, const=array)

    def name(self, value):
        """The ONNX name of ``value`` (a constant is written on first use)."""
        if value.name is None:
            value.name = self.const(value.const, "k")
        return value.name

    def op(self, op_type, inputs, attrs=None, outputs=1, hint=None):
        """Append a node; ``inputs`` are names or Values. Returns its output name (or names,
        when ``outputs`` > 1)."""
        names = [i if isinstance(i, str) else self.name(i) for i in inputs]
        outs = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(onnx_wire.node(op_type, names, outs, outs[0], attrs or {}))
        return outs[0] if outputs == 1 else outs

    def reshape(self, name, shape):
        return self.op("Reshape", [name, self.const(np.array(shape, np.int64), "shape")])


class FileSource:
    """A caffemodel's bytes ``data``, read from the file ``path`` whose
    :func:`~caffe_compat.io.binary_file.identity` was ``known``: a float32 array viewing them
    can be given to OpenCV 5's reader as the file's bytes at an offset (ONNX's external
    data, the file linked into the model's folder as :data:`LINK`) instead of written into
    the model."""

    LINK = "caffemodel"

    def __init__(self, path, data, known):
        self.path, self.data, self.known = path, data, known
        self._start = np.frombuffer(data, np.uint8).__array_interface__["data"][0]

    def offset_of(self, array):
        """The offset in the file of ``array``'s values, or None where it does not view the
        file's bytes as they are (another order, not contiguous, elsewhere)."""
        if sys.byteorder != "little" or array.dtype != np.float32 or \
                not array.flags.c_contiguous:
            return None
        offset = array.__array_interface__["data"][0] - self._start
        if offset < 0 or offset + array.nbytes > len(self.data):
            return None
        return offset


def _needed(layers, wanted):
    """Indices of the layers that the blobs ``wanted`` depend on (the definition's blob names
    are unique: every in-place top was renamed)."""
    need, keep = set(wanted), []
    for k in range(len(layers) - 1, -1, -1):
        lp = layers[k]
        if need & set(lp.top):
            keep.append(k)
            need.update(lp.bottom)
    return sorted(keep)


class Plan:
    """What :func:`build` made: the model's encoding (:class:`~.onnx_wire.Pieces`, None when
    every output is a constant or a numpy step's), the ONNX outputs by blob name, the numpy
    steps and the constants."""

    def __init__(self, model, graph_outputs, steps, consts, wanted, external, linked=None):
        self.model, self.graph_outputs, self.steps = model, graph_outputs, steps
        self.consts, self.wanted, self.external = consts, wanted, external
        self.linked = linked        # (the model referring to the source file, FileSource)


def build(layers, inputs, weights, wanted, graph_name="net", external=False, source=None):
    """The :class:`Plan` computing blobs ``wanted`` of ``layers`` (LayerParameters, blob names
    unique, no Input layer) from ``inputs`` (``[(name, shape)]``), with ``weights``
    ``{layer name: [arrays]}``. Raises :class:`Unsupported` for what the path does not
    reproduce. ``external``: large weights are given to the runtime apart
    (``plan.external``, {name: array}) instead of written into the model. ``source``: the
    :class:`FileSource` the weights view; ``plan.linked`` then also holds a model whose
    large weights that file's bytes are."""
    g = Graph(external, source)
    env = {name: Value(name, shape) for name, shape in inputs}
    steps = []
    for k in _needed(layers, wanted):
        lp = layers[k]
        missing = [b for b in lp.bottom if b not in env]
        if missing:
            raise Unsupported(f"layer '{lp.name}': bottom(s) {missing} not produced before it")
        bottoms = [env[b] for b in lp.bottom]
        blobs = weights.get(lp.name)
        host = host_converter(lp.type)
        if host is not None:
            shapes, run = host(lp, bottoms, blobs)
            steps.append((run, list(lp.bottom), list(lp.top)))
            tops = [Value(None, s, host=True) for s in shapes]
        else:
            fn = converter(lp.type)
            if fn is None:
                raise Unsupported(f"layer '{lp.name}': type {lp.type} has no torch-free "
                                  "converter")
            if any(b.host for b in bottoms):
                raise Unsupported(f"layer '{lp.name}' reads the result of a numpy step")
            tops = fn(g, lp, bottoms, blobs)
        if len(tops) != len(lp.top):
            raise Unsupported(f"layer '{lp.name}': {len(tops)} outputs made, {len(lp.top)} "
                              "tops")
        env.update(zip(lp.top, tops))
    # what the graph must output: the blobs asked for and what the numpy steps read
    needed_out = []
    for blob in list(wanted) + [b for _, bottoms, _ in steps for b in bottoms]:
        v = env[blob]
        if v.const is None and not v.host and blob not in needed_out:
            needed_out.append(blob)
    graph_outputs, outs = {}, []
    for blob in needed_out:
        v = env[blob]
        out = g.fresh("out")
        g.nodes.append(onnx_wire.node("Identity", [g.name(v)], [out], out, {}))
        graph_outputs[blob] = out
        outs.append((out, v.shape))
    consts = {b: env[b].const for b in env if env[b].const is not None}
    model = linked = None
    if outs:
        model = onnx_wire.model_pieces(graph_name, g.nodes, g.initializers, list(inputs),
                                       outs)
        if g.linked:
            linked = (onnx_wire.model_pieces(graph_name, g.nodes, g.linked_initializers(),
                                             list(inputs), outs), source)
    return Plan(model, graph_outputs, steps, consts, list(wanted), g.external or {}, linked)


def run(plan, session, feed, wanted=None):
    """The arrays of ``wanted`` (default ``plan.wanted``) for ``feed`` ({input name: float32
    array}): the ONNX part by ``session`` (``session(feed) -> arrays`` in
    ``plan.graph_outputs``' order), then the numpy steps."""
    values = dict(plan.consts)
    if plan.graph_outputs:
        got = session(feed)
        values.update(zip(plan.graph_outputs, got))
    for step, bottoms, tops in plan.steps:
        values.update(zip(tops, step([values[b] for b in bottoms])))
    return [np.ascontiguousarray(values[b], dtype=np.float32)
            for b in (plan.wanted if wanted is None else wanted)]
