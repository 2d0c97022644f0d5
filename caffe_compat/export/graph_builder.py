"""The ONNX graph under construction, and what a converter sees of its layer.

:class:`OnnxGraph` wraps ``onnx.helper``: unique value and node names, initializers (small
constants shared), nodes. :class:`LayerContext` is one layer's view: its Caffe parameters and
module (the built layer, whose parsed settings and blobs the converter reads), the ONNX values
of its bottoms, the static shapes our net computed, and helpers that keep the batch axis free.

Batch axis: a Caffe net is built for the deploy file's input shape, and the export keeps that
geometry (pooling sizes, priors, crops), except for the batch size: the graph computes, for an
input of N items, what Caffe computes after reshaping the input blob to N items (the file
declares N free, or fixed with a static batch). Converters therefore never write the batch
size into a shape: they copy it (``Reshape``'s 0), infer it (``-1``) or read it with
``Shape``.
"""
from __future__ import annotations

import numpy as np

from ..errors import CaffeCompatError, NetError


def import_onnx():
    """The ``onnx`` module, or a clear error naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise CaffeCompatError("ONNX export needs the 'onnx' package: pip install onnx (or "
                               "pip install 'robust-lq-emotion[export]')") from None
    return onnx


class OnnxGraph:
    """Nodes, initializers and names of one ONNX graph (opset ``opset`` of the default domain)."""

    def __init__(self, opset=17):
        self.onnx = import_onnx()
        self.opset = int(opset)
        self.nodes = []
        self.initializers = []
        self._names = set()
        self._consts = {}
        self.constants = {}         # initializer name -> its numpy value

    def fresh(self, hint):
        """A value or node name not used yet, derived from ``hint``."""
        name, k = hint, 1
        while name in self._names:
            k += 1
            name = f"{hint}_{k}"
        self._names.add(name)
        return name

    def reserve(self, name):
        """Mark ``name`` as taken (graph inputs); returns it."""
        if name in self._names:
            raise NetError(f"ONNX value name '{name}' is used twice")
        self._names.add(name)
        return name

    def node(self, op, inputs, outputs=1, prefix="", **attrs):
        """Add node ``op``; ``outputs`` is a count or a list of name hints. Returns the output
        name (one output) or the list of names. Empty strings in ``inputs`` skip optional
        inputs, as ONNX allows."""
        hints = [f"{prefix}{op}"] * outputs if isinstance(outputs, int) else \
            [f"{prefix}{h}" for h in outputs]
        names = [self.fresh(h) for h in hints]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), names,
                                                     name=self.fresh(f"{prefix}{op}#"), **attrs))
        return names[0] if len(names) == 1 else names

    def const(self, value, hint="const", dtype=None):
        """An initializer holding ``value`` (numpy array or scalar); small ones are shared."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(np.float32)
        key = None
        if arr.size <= 64:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        arr = np.ascontiguousarray(arr).reshape(arr.shape)       # a scalar stays 0-d
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        self.constants[name] = arr
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values, hint="ints"):
        """A 1-D int64 constant (shapes, axes, starts, ...)."""
        return self.const(np.asarray(list(values), np.int64).reshape(-1), hint)

    def scalar(self, value, dtype=np.float32, hint="scalar"):
        return self.const(np.asarray(value, dtype), hint)


class LayerContext:
    """One Caffe layer as its converter sees it.

    ``bottoms``: ONNX value names; ``bottom_shapes`` / ``top_shapes``: the static shapes of the
    built net (batch as in the deploy file); ``module``: the built layer; ``param``: its
    LayerParameter.
    """

    def __init__(self, graph, node, module, bottoms, bottom_shapes, top_shapes):
        self.g = graph
        self.node = node
        self.module = module
        self.param = node.param
        self.name = node.name
        self.type = node.type
        self.bottoms = list(bottoms)
        self.bottom_shapes = [tuple(s) for s in bottom_shapes]
        self.top_shapes = [tuple(s) for s in top_shapes]

    # ------------------------------------------------------------------ nodes and constants
    def op(self, op, inputs, outputs=1, **attrs):
        """A node named after this layer (see :meth:`OnnxGraph.node`)."""
        return self.g.node(op, inputs, outputs, prefix=f"{self.name}/", **attrs)

    def const(self, value, hint="const", dtype=None):
        return self.g.const(value, f"{self.name}/{hint}", dtype)

    def ints(self, values, hint="shape"):
        return self.g.ints(values, f"{self.name}/{hint}")

    def scalar(self, value, dtype=np.float32, hint="scalar"):
        return self.g.scalar(value, dtype, f"{self.name}/{hint}")

    def blob(self, array, hint):
        """A float32 initializer from a parameter blob (torch tensor) or array."""
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        return self.const(np.asarray(array, np.float32), hint)

    def constant(self, index):
        """The numpy value of bottom ``index`` when the graph holds it as a constant (e.g.
        priors), else None."""
        return self.g.constants.get(self.bottoms[index])

    def fail(self, message):
        raise NetError(f"layer '{self.name}' (type {self.type}): {message}")

    # ------------------------------------------------------------------ shapes
    def shape_of(self, x, start=None, end=None):
        """``Shape`` of ``x`` (optionally the axes ``[start, end)``) as an int64 vector."""
        s = self.op("Shape", [x])
        if start is None and end is None:
            return s
        starts = self.ints([0 if start is None else start], "start")
        ends = self.ints([np.iinfo(np.int64).max if end is None else end], "end")
        return self.op("Slice", [s, starts, ends])
