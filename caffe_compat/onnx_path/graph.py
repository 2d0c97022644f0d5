"""A Caffe net (the layers ``caffe_compat.dnn`` runs, with their caffemodel arrays) written as
an ONNX model for the input shapes given, plus the numpy steps that run after it.

:func:`build` walks the layers that the outputs asked for need, in order, and hands each to
its converter (:mod:`caffe_compat.onnx_path.converters`): shapes are known at every step, so
converters write fixed shapes and compute shape-only layers (PriorBox) as constants. Layers
whose results depend on the data in ways ONNX does not express as Caffe computes them
(DetectionOutput's NMS and top-k) are numpy steps run on the ONNX outputs they read."""
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
        # what each node and initializer holds, encoded when first asked for (a plan served
        # by a session of another plan's model is never encoded): nodes[k], initializers[k]
        self.node_specs, self.initializer_specs, self._count = [], [], 0
        self.nodes = _Encoded(self.node_specs, lambda spec: onnx_wire.node(*spec))
        self.initializers = _Encoded(self.initializer_specs, _tensor)
        self.external = {} if external else None      # name -> array given apart
        # a caffemodel's bytes whose large arrays the model may refer to (FileSource), and
        # those references: {initializer index: onnx_wire.linked_tensor}
        self.source, self.linked = source, {}
        self.avoids = {}            # runtime -> why its nodes would not compute Caffe's values
        # an export's graph (caffe_compat.export): the inputs' batch axis is free, so no node
        # writes the batch length (a Reshape copies it with 0 or infers it with -1, a length
        # is read with Shape); the torch-free path's graphs are written for fixed shapes
        self.batch_free = False
        self.reserved = frozenset()     # names fresh() never gives (an export's blob names)

    def avoid(self, runtime, why):
        """The graph is not to run on ``runtime``: a node written computes otherwise there than
        Caffe (``why``); :class:`caffe_compat.onnx_path.TorchFreeNet` leaves it to the others."""
        self.avoids[runtime] = why

    def fresh(self, hint="v"):
        self._count += 1
        name = f"{hint}_{self._count}"
        return name if name not in self.reserved else self.fresh(hint)

    def const(self, array, hint="c"):
        """An initializer holding ``array`` (float32, or int64 for integer arrays); its name."""
        array = np.asarray(array)
        array = array.astype(np.int64 if array.dtype.kind in "iub" else np.float32, copy=False)
        name = self.fresh(hint)
        given = False
        if self.external is not None and array.dtype == np.float32 and \
                array.size >= self.EXTERNAL_MIN:
            self.external[name] = array = np.ascontiguousarray(array)
            given = True
        elif self.source is not None and array.size >= self.EXTERNAL_MIN:
            offset = self.source.offset_of(array)
            if offset is not None:
                self.linked[len(self.initializer_specs)] = onnx_wire.linked_tensor(
                    name, array.shape, FileSource.LINK, offset, array.nbytes)
        self.initializer_specs.append((name, array, given))
        return name

    def node(self, op_type, inputs, outputs, attrs=None):
        """Append a node of input and output names."""
        self.node_specs.append((op_type, tuple(inputs), tuple(outputs), outputs[0],
                                dict(attrs or {})))

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
        self.node(op_type, names, outs, attrs)
        return outs[0] if outputs == 1 else outs

    def reshape(self, name, shape, like=None):
        """``name`` reshaped to ``shape``; ``like``: the input's shape, whose first length,
        where the output keeps it, is written as ONNX's 0 (copy the input's): the node is
        then the same for every batch size (:meth:`Plan.signature`). Only InnerProduct's rows
        are written so: OpenCV 5's reader refuses a 0 after some of the other reshapes (a
        Caffe Reshape after MVN's)."""
        shape = list(shape)
        if like is not None and shape and len(like) and int(shape[0]) == int(like[0]):
            shape[0] = 0
        return self.op("Reshape", [name, self.const(np.array(shape, np.int64), "shape")])


class _Encoded:
    """``specs[k]`` encoded by ``encode`` when first asked for (then kept)."""

    def __init__(self, specs, encode):
        self._specs, self._encode, self._done = specs, encode, {}

    def __len__(self):
        return len(self._specs)

    def __getitem__(self, k):
        got = self._done.get(k)
        if got is None:
            got = self._done[k] = self._encode(self._specs[k])
        return got


def _tensor(spec):
    name, array, given = spec
    return onnx_wire.external_tensor(name, array) if given else onnx_wire.tensor(name, array)


# Values up to this size go into a part's signature as they are; larger ones that do not
# view a caffemodel's bytes (rare: weights computed at read time) as a BLAKE2 digest
_VALUES_KEPT = 1 << 16


def _array_key(array):
    """What ``array`` holds, as a hashable key: where its memory is an immutable bytes
    object's (a caffemodel's weights viewing the file's bytes), that object and the place
    (they cannot change while the net holds them); else the values themselves, or their
    digest beyond :data:`_VALUES_KEPT` bytes."""
    root = array
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    if isinstance(root, memoryview):
        root = root.obj
    layout = (array.dtype.str, array.shape, array.strides)
    if isinstance(root, bytes):
        start = np.frombuffer(root, np.uint8).__array_interface__["data"][0]
        return layout + ("file", id(root), array.__array_interface__["data"][0] - start)
    values = np.ascontiguousarray(array).tobytes()
    if len(values) <= _VALUES_KEPT:
        return layout + ("values", values)
    import hashlib                      # (its import is 5-7 ms: only where needed)
    return layout + ("digest", hashlib.blake2b(values, digest_size=20).digest())


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
        return None if offset < 0 or offset + array.nbytes > len(self.data) else offset


def needed(layers, wanted):
    """Indices of the layers that the blobs ``wanted`` depend on (the definition's blob names
    are unique: every in-place top was renamed)."""
    need, keep = set(wanted), []
    for k in range(len(layers) - 1, -1, -1):
        lp = layers[k]
        if need & set(lp.top):
            keep.append(k)
            need.update(lp.bottom)
    return sorted(keep)


class Part:
    """One ONNX model of a plan: the graph's nodes ``nodes`` (indices), the initializers they
    read, inputs and outputs ``[(name, shape)]``. Its encodings are written when first asked
    for: :attr:`model` (every weight in the model's bytes) and :attr:`linked` (the large
    weights referring to the caffemodel's file, or None)."""

    def __init__(self, g, graph_name, nodes, inputs, outputs):
        self._g, self._graph_name, self._nodes = g, graph_name, list(nodes)
        self.inputs, self.outputs = list(inputs), list(outputs)
        read = {n for k in self._nodes for n in g.node_specs[k][1]}
        self._inits = [k for k, spec in enumerate(g.initializer_specs) if spec[0] in read]
        self._model = None

    @property
    def input_names(self):
        return [n for n, _ in self.inputs]

    @property
    def output_names(self):
        return [n for n, _ in self.outputs]

    def _pieces(self, initializers, inputs=None, outputs=None):
        return onnx_wire.model_pieces(self._graph_name, [self._g.nodes[k] for k in self._nodes],
                                      initializers, inputs or self.inputs, outputs or self.outputs)

    @property
    def model(self):
        if self._model is None:
            self._model = self._pieces([self._g.initializers[k] for k in self._inits])
        return self._model

    def free_model(self):
        """The model with every input and output length free (named ``dim_param``s) but the
        inputs' channels (axis 1; OpenCV's classic engine checks a Convolution's channels
        when it reads the model): a runtime session of it runs the inputs of any shape with
        those channels for which :func:`build` writes the same nodes and values
        (:meth:`Plan.signature`)."""
        free = [(n, tuple(s[1] if axis == 1 else f"{n}:{axis}" for axis in range(len(s))))
                for n, s in self.inputs]
        outs = [(n, tuple(f"{n}:{axis}" for axis in range(len(s)))) for n, s in self.outputs]
        return self._pieces([self._g.initializers[k] for k in self._inits], free, outs)

    def nodes(self):
        """``[(op_type, attributes)]`` of the part's nodes, in order."""
        specs = self._g.node_specs
        return [(specs[k][0], specs[k][4]) for k in self._nodes]

    def signature(self):
        """What the part computes, as a hashable key: its nodes, the values of the
        initializers they read (those given apart included: :func:`_array_key`) and its
        inputs' and outputs' names, not their shapes."""
        g = self._g
        nodes = []
        for k in self._nodes:
            op_type, inputs, outputs, name, attrs = g.node_specs[k]
            nodes.append(repr((op_type, inputs, outputs, name, sorted(attrs.items()))))
        inits = []
        for k in self._inits:
            name, array, given = g.initializer_specs[k]
            inits.append((name, given) + _array_key(array))
        return ("\n".join(nodes), tuple(inits), tuple(self.input_names),
                tuple(self.output_names))

    @property
    def linked(self):
        """(the model referring to the source file, :class:`FileSource`), or None where no
        weight of this part views the file."""
        g = self._g
        if not any(k in g.linked for k in self._inits):
            return None
        return self._pieces([g.linked.get(k, g.initializers[k]) for k in self._inits]), g.source


class Plan:
    """What :func:`build` made: the ONNX part as :class:`Part` models run in turn
    (:attr:`parts`; one, or two where the build was staged; none when every output is a
    constant or a numpy step's), the ONNX outputs by blob name, the numpy steps and the
    constants. :attr:`whole` is the one model of every part's nodes (None without nodes)."""

    def __init__(self, parts, whole, graph_outputs, steps, consts, wanted, external,
                 avoids=None):
        self.parts, self.whole, self.graph_outputs = parts, whole, graph_outputs
        self.steps, self.consts, self.wanted, self.external = steps, consts, wanted, external
        self._signature = False             # not computed yet
        self.avoids = avoids or {}          # runtime -> why (Graph.avoid)

    def run(self, session, feed, wanted=None):
        """The arrays of ``wanted`` (default :attr:`wanted`) for ``feed`` ({input name:
        float32 array}): the ONNX part by ``session`` (``session(feed) -> arrays`` in
        :attr:`graph_outputs`' order), then the numpy steps."""
        values = dict(self.consts) if self.consts else {}
        if self.graph_outputs:
            values.update(zip(self.graph_outputs, session(feed)))
        for step, bottoms, tops in self.steps:
            values.update(zip(tops, step([values[b] for b in bottoms])))
        return [np.ascontiguousarray(values[b], dtype=np.float32)
                for b in (self.wanted if wanted is None else wanted)]

    def signature(self):
        """What the plan computes apart from the shapes it was written for (its whole
        model's :meth:`Part.signature`, the numpy steps' and constants' blobs), or None where
        it has no model: two plans of a net with one signature compute the same function, so
        one session of :meth:`Part.free_model` serves both. Computed once."""
        if self._signature is False:
            self._signature = None if self.whole is None or self.steps or self.consts else \
                (self.whole.signature(), tuple(self.graph_outputs.items()))
        return self._signature

    @property
    def model(self):
        """The whole model's encoding (:class:`~.onnx_wire.Pieces`), or None."""
        return self.whole.model if self.whole is not None else None

    @property
    def linked(self):
        """(the whole model referring to the caffemodel's file, :class:`FileSource`), or
        None."""
        return self.whole.linked if self.whole is not None else None


# a build staged (:func:`build`'s ``stage``) cuts the graph after the layer where the weights
# written reach this share of the net's: the first model is read while the rest is written
STAGE_SHARE = 0.5


def _weight_bytes(weights, lp):
    return sum(a.nbytes for a in weights.get(lp.name) or ())


def build(layers, inputs, weights, wanted, graph_name="net", external=False, source=None,
          stage=None):
    """The :class:`Plan` computing blobs ``wanted`` of ``layers`` (LayerParameters, blob names
    unique, no Input layer) from ``inputs`` (``[(name, shape)]``), with ``weights``
    ``{layer name: [arrays]}``. Raises :class:`Unsupported` for what the path does not
    reproduce. ``external``: large weights are given to the runtime apart
    (``plan.external``, {name: array}) instead of written into the model. ``source``: the
    :class:`FileSource` the weights view; a part's ``linked`` model then refers to that
    file's bytes.

    ``stage``: called with the first :class:`Part` as soon as the layers holding
    :data:`STAGE_SHARE` of the weights are written (so that a runtime reads it while the
    rest is written); the plan then runs that part and the part of the remaining layers in
    turn, the blobs crossing the cut handed from one to the other. Not called where the
    cut leaves nothing to hand over or nothing after it."""
    g = Graph(external, source)
    env = {name: Value(name, shape) for name, shape in inputs}
    steps = []
    order = needed(layers, wanted)
    first = None
    if stage is not None:
        sizes = [_weight_bytes(weights, layers[k]) for k in order]
        total, done = sum(sizes), 0
    for at, k in enumerate(order):
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
        if stage is not None and first is None and at + 1 < len(order):
            done += sizes[at]
            if total and done >= STAGE_SHARE * total:
                later = [b for j in order[at + 1:] for b in layers[j].bottom]
                later += list(wanted) + [b for _, bottoms_, _ in steps for b in bottoms_]
                first = _first_part(g, graph_name, env, inputs, later)
                if first is not None:
                    stage(first)
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
        g.node("Identity", [g.name(v)], [out])
        graph_outputs[blob] = out
        outs.append((out, v.shape))
    consts = {b: env[b].const for b in env if env[b].const is not None}
    parts, whole = [], None
    if outs:
        whole = Part(g, graph_name, range(len(g.nodes)), list(inputs), outs)
        parts = [whole]
        rest = _rest_part(g, graph_name, first, inputs, outs) if first is not None else None
        if rest is not None:
            parts = [first, rest]
    elif first is not None:
        parts = []           # nothing left to run: the first part is not used
    return Plan(parts, whole, graph_outputs, steps, consts, list(wanted), g.external or {},
                g.avoids)


def _first_part(g, graph_name, env, inputs, later):
    """The :class:`Part` of the nodes written so far, whose outputs are the values of the
    blobs ``later`` layers read that these nodes made; None where there are none."""
    made = {n for _, _, outs, _, _ in g.node_specs for n in outs}
    outputs, seen = [], set()
    for blob in later:
        v = env.get(blob)
        if v is None or v.const is not None or v.host or v.name not in made or \
                v.name in seen:
            continue
        seen.add(v.name)
        outputs.append((v.name, v.shape))
    if not outputs:
        return None
    read = {n for _, ins, _, _, _ in g.node_specs for n in ins}
    return Part(g, graph_name, range(len(g.nodes)), [i for i in inputs if i[0] in read],
                outputs)


def _rest_part(g, graph_name, first, inputs, outs):
    """The :class:`Part` of the nodes after ``first``'s: its inputs are the net's inputs and
    ``first``'s outputs it reads."""
    nodes = range(len(first._nodes), len(g.nodes))
    read = {n for k in nodes for n in g.node_specs[k][1]}
    given = [i for i in list(inputs) + first.outputs if i[0] in read]
    made = {n for k in nodes for n in g.node_specs[k][2]}
    made |= {name for name, _, _ in g.initializer_specs}
    if read - made - {n for n, _ in given}:   # reads a value the first part keeps: unstaged
        return None
    return Part(g, graph_name, nodes, given, outs)


def remembered(cache, key, make, keep):
    """``cache[key]`` (an OrderedDict of the last ``keep`` plans used), made by ``make(*key)``
    where it is not there."""
    got = cache.get(key)
    if got is None:
        got = cache[key] = make(*key)
        while len(cache) > keep:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return got


def in_turn(parts, sessions, outputs):
    """One session of ``sessions`` (one per :class:`Part`, run in turn, each fed the net's
    inputs and the earlier parts' outputs it reads), giving the values of ``outputs``."""
    if len(sessions) == 1:
        return sessions[0]

    def forward(feed):
        values = dict(feed)
        for part, run_part in zip(parts, sessions):
            values.update(zip(part.output_names,
                              run_part({n: values[n] for n in part.input_names})))
        return [values[n] for n in outputs]

    forward.runtime = getattr(sessions[-1], "runtime", None)
    return forward
