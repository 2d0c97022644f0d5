"""A Caffe net on numpy arrays (:class:`ArrayNet`): Net::Init's layer list and blobs, its
parameters filled or read from a caffemodel, ForwardFromTo, Reshape and the caffemodel it
writes; :func:`build_array_net` returns None for a net the array engine does not run.

Blobs keep one float32 array each, as Caffe's Blobs keep their memory: an array taken from a
blob is what the next forward reads and writes, until the blob changes shape. The tops of a
Split and of a Flatten are their bottom's memory, as in Caffe.
"""
from __future__ import annotations

import os
import types

import numpy as np

from ..data.caffe_random import thread_stream
from ..data.filler_rules import caffe_rng_uniform, norm_n
from ..errors import NetError
from ..io import blobproto
from ..io import caffemodel as caffemodel_io
from ..io import prototxt as prototxt_io
from ..kernels.small_pages import blob_zeros
from ..net.blob_memory import reshaped_memory
from ..net.caffemodel_out import CaffemodelOutMixin
from ..net.backward_needs import backward_needs
from ..parallel import numpy_blas
from ..net.graph import build_graph, phase_name
from ..proto import caffe_pb2
from .deferred_grads import DeferredWeightGrads
from .registry import Unsupported, layer_class


def build_array_net(model, phase, level=0, stages=(), allow_data=False, defer_fills=False,
                    why=None):
    """An :class:`ArrayNet` of ``model`` (a prototxt path, or an upgraded NetParameter), or
    None where the array engine does not run this net (the torch engine then builds it, with
    its own checks and messages). Data layers only with ``allow_data`` (a net that never moves
    to torch: their database positions and seeds would not move with it). ``defer_fills``:
    a net whose fillers include ones the engine does not draw (gaussian, msra, ...) is
    accepted, those parameters left unfilled (:attr:`ArrayNet.unfilled`) for a weights file
    to overwrite, or for the torch engine to draw when the net moves there; without it
    such a net is not the array engine's. ``why``: a list given the reason when the engine
    refuses a net it read (:class:`Unsupported`)."""
    try:
        if isinstance(model, caffe_pb2.NetParameter):
            net_param = model
        else:
            net_param = prototxt_io.read_net(os.fspath(model))
        if net_param.debug_info:           # its per-blob lines: the torch engine's passes
            raise Unsupported("its debug_info: true, whose per-blob lines the torch engine prints")
        graph = build_graph(net_param, phase, level, list(stages or []))
        return ArrayNet(graph, allow_data, defer_fills)
    except Unsupported as exc:
        if why is not None:
            why.append(str(exc))
        return None
    except Exception:          # an error the torch engine's build reports
        return None


def _flat_zeros(n):
    return blob_zeros((n,))


class ArrayNet(CaffemodelOutMixin):
    """The layers, blobs and parameters of one net phase on numpy arrays."""

    def __init__(self, graph, allow_data=False, defer_fills=False):
        self.graph = graph
        self.name = graph.name
        self.phase = phase_name(graph.phase)
        self.nodes = graph.layers
        self.layers = []
        self.params = {}            # layer name -> [arrays]
        shapes = {}
        pending = []
        self.loss_weights = {}      # loss top -> its weight (Caffe's SetLossWeights)
        self.node_weights = []
        # (layer name, blob index) of the parameters whose filler the torch engine draws,
        # not yet overwritten by copy_from: their arrays hold zeros until the net moves there
        self.unfilled = set()
        self._defer_fills = defer_fills
        try:
            self._build(shapes, pending, allow_data)
        except BaseException:
            self.close()            # databases opened so far: not left to the collector
            raise
        # only now, the whole net accepted: the data layers' seeds and the fillers' values
        # are drawn from Caffe's stream in layer order, as the torch engine's build draws them
        # (a refused net has drawn nothing)
        for layer, name, fills in pending:
            if layer.is_data:
                layer.realize(thread_stream())
            if fills:
                self.params[name] = [blob_zeros(shape) if _deferred(fp) else
                                     _filled(blob_zeros(shape), fp) for shape, fp in fills]
                self.unfilled.update((name, k) for k, (_, fp) in enumerate(fills)
                                     if _deferred(fp))
        self.data = {}
        for node, layer in zip(self.nodes, self.layers):
            for name in node.tops:
                if name not in self.data:
                    self.data[name] = blob_zeros(shapes[name])
            if layer.shares_bottom:
                self._share(node, layer)
        self.diff = {}
        self._memory = {}           # the blobs' memory as Caffe's Blob::Reshape keeps it
        self.param_diffs = {}       # (layer name, blob index) -> diff array, made when asked
        # the blobs (names) and parameters ((layer, index)) whose arrays were handed to Python:
        # a net moving to a device later counts them as held (caffe_compat.net.synced_memory)
        self.handed_out = set()
        self.deferred = DeferredWeightGrads()      # weight gradients left for when asked
        # per layer: (bottom arrays, their shapes, top arrays) at its last Reshape, or None
        self._reshaped = [None] * len(self.nodes)
        self.index = {node.name: i for i, node in enumerate(self.nodes)}
        self.inputs = [t for node in self.nodes if node.type == "Input" for t in node.tops]
        self.layer_need, self.bottom_need, self.param_need = backward_needs(
            self.nodes, [len(self.params.get(node.name, ())) for node in self.nodes],
            self.node_weights, graph.force_backward,
            lambda i, j: self.layers[i].allow_force_backward(j))
        self.outputs = list(graph.outputs)

    def _build(self, shapes, pending, allow_data):
        for node in self.nodes:
            cls = layer_class(node.type)
            layer = cls(node.param, [shapes[b] for b in node.bottoms], self.phase)
            self.layers.append(layer)
            if layer.is_data and not allow_data:
                raise Unsupported(f"layer '{node.name}': a data layer")
            self.node_weights.append(self._loss_weights(node, layer))
            for j, top in enumerate(node.tops):
                if j < len(node.bottoms) and node.bottoms[j] == top and not cls.in_place:
                    raise Unsupported(f"layer '{node.name}' in place")
            tops = layer.top_shapes([shapes[b] for b in node.bottoms])
            if len(tops) != len(node.tops):
                raise Unsupported(f"layer '{node.name}' tops")
            for name, shape in zip(node.tops, tops):
                if int(np.prod(shape, dtype=np.int64)) > caffemodel_io.MAX_BLOB_COUNT:
                    raise Unsupported(f"layer '{node.name}': a top beyond Caffe's limit")
                shapes[name] = tuple(int(d) for d in shape)
            fills = list(zip(layer.param_shapes(), layer.filler_params()))
            for _, fp in fills:
                if not (self._defer_fills and _deferred(fp)):
                    _check_filler(fp, node.name)
            pending.append((layer, node.name, fills))

    def _loss_weights(self, node, layer):
        """The weight of each top (Caffe's SetLossWeights; a loss layer's first top weighs 1
        unless given)."""
        given = [float(w) for w in node.param.loss_weight]
        if given:
            if len(given) != len(node.tops):
                raise Unsupported(f"layer '{node.name}': loss weights per top")
            weights = given
        elif layer.is_loss:
            if len(node.tops) != 1:
                raise Unsupported(f"layer '{node.name}': a loss with {len(node.tops)} tops")
            weights = [1.0]
            node.param.loss_weight.append(1.0)   # LossLayer::LayerSetUp adds it (ToProto)
        else:
            weights = [0.0] * len(node.tops)
        for name, w in zip(node.tops, weights):
            if w:
                self.loss_weights[name] = self.loss_weights.get(name, 0.0) + w
        return weights

    # ------------------------------------------------------------------ blobs
    def _share(self, node, layer):
        for name, arr in zip(node.tops, layer.shared_tops([self.data[b]
                                                            for b in node.bottoms])):
            self.data[name] = arr

    def blob_data(self, name):
        """The data array of blob ``name`` (its memory: what the next forward reads)."""
        self.handed_out.add(name)
        return self.data[name]

    def blob_diff(self, name):
        self.handed_out.add(name)
        return self.diff_of(name)

    def blob_shape(self, name):
        return self.data[name].shape

    def diff_of(self, name):
        """The diff array of blob ``name``: made as zeros, or as its loss weight for a loss top
        (Caffe's SetLossWeights), when first asked for or when the blob changed shape."""
        d = self.diff.get(name)
        shape = self.data[name].shape
        if d is None:
            d = self.diff[name] = blob_zeros(shape)
            if name in self.loss_weights:       # a loss top's diff is its loss weight
                d[...] = np.float32(self.loss_weights[name])
        elif d.shape != shape:                  # Caffe's Blob::Reshape keeps the memory
            d = self.diff[name] = reshaped_memory(self._memory, ("diff", name), d, shape,
                                                  _flat_zeros)
        return d

    def param_diff(self, layer, k):
        """The diff of parameter ``k`` of ``layer`` (zeros until a backward adds into it), with
        every weight gradient a backward left for now added (:mod:`.deferred_grads`)."""
        if k == 0 and self.deferred.kept:
            self.settle(self.index[layer], read=True)
        return self._param_diff(layer, k)

    def _param_diff(self, layer, k):
        d = self.param_diffs.get((layer, k))
        if d is None:
            d = self.param_diffs[(layer, k)] = blob_zeros(self.params[layer][k].shape)
        return d

    def settle(self, i, read=False):
        """Add into layer ``i``'s weight diff the gradients its backwards left, in their
        order; ``read``: a program or solver asked for the diff (deferring then stops)."""
        kept = self.deferred.take(i)
        if not kept:
            return
        if read:
            self.deferred.active = False
        for x, dy in kept:
            self._add_weight_grad(i, x, dy)

    def _add_weight_grad(self, i, x, dy):
        """Layer ``i``'s weight gradient of bottom data ``x`` and top diff ``dy`` added into
        its diff."""
        name = self.nodes[i].name
        self.layers[i].add_weight_grad(x, self.params[name][0], dy, self._param_diff(name, 0))

    def settle_all(self):
        """Every weight gradient left by a backward added (before the diffs leave this
        net: the torch engine's hand-over)."""
        for i in sorted(self.deferred.kept):
            self.settle(i)

    def clear_param_diffs(self):
        """Caffe's ClearParamDiffs: every parameter diff zeroed in place (and the weight
        gradients left for later forgotten: they were part of the sums zeroed)."""
        self.deferred.drop()
        for d in self.param_diffs.values():
            d[...] = 0

    def reshape_blob(self, name, shape):
        """Blob ``name`` at ``shape``, as Caffe's Blob::Reshape leaves it
        (:func:`caffe_compat.net.blob_memory.reshaped_memory`: the values kept while the count fits
        the blob's capacity, zeros beyond; the diff follows at its next use)."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"blob '{name}': negative dimension in {shape}")
        if self.data[name].shape != shape:
            self.data[name] = reshaped_memory(self._memory, ("data", name), self.data[name],
                                              shape, _flat_zeros)

    def reshape(self):
        """Caffe's Net::Reshape: every layer's tops take the shapes its bottoms give."""
        for node, layer in zip(self.nodes, self.layers):
            self._reshape_tops(node, layer)

    def _reshape_tops(self, node, layer):
        if not node.bottoms:
            return                  # Input keeps the shapes the program gave its tops
        bottoms = [self.data[b] for b in node.bottoms]
        if layer.shares_bottom:
            self._share(node, layer)
            return
        for name, shape in zip(node.tops, layer.top_shapes([b.shape for b in bottoms])):
            if name in node.bottoms:
                continue            # in place: the bottom's shape
            self.reshape_blob(name, shape)

    # ------------------------------------------------------------------ passes
    def layer_index(self, value, default):
        if value is None:
            return default
        return self.index[value] if isinstance(value, str) else int(value)

    def forward(self, start=0, end=None):
        """Layers ``start`` to ``end`` (inclusive), each reshaping its tops first (Caffe's
        ForwardFromTo); returns the loss: each loss top's value times its weight, summed."""
        end = len(self.nodes) - 1 if end is None else end
        numpy_blas.limit_once()     # one pool of threads per process, as for torch's passes
        loss = 0.0
        for i in range(start, end + 1):
            self.forward_layer(i)
            for name, w in zip(self.nodes[i].tops, self.node_weights[i]):
                if w:
                    loss += float(np.float32(w) * self.data[name].sum(dtype=np.float32))
        return loss

    def forward_layer(self, i):
        """Layer ``i``'s Reshape and Forward_cpu on the blobs as they are."""
        node, layer = self.nodes[i], self.layers[i]
        if layer.is_data:
            for name, value in zip(node.tops, layer.produce()):
                if self.data[name].shape == value.shape:
                    np.copyto(self.data[name], value)   # the top keeps its memory
                else:
                    self.data[name] = value
                    self.diff.pop(name, None)
            return
        data = self.data
        bottoms = [data[b] for b in node.bottoms]
        shapes = [b.shape for b in bottoms]
        seen = self._reshaped[i]
        # Reshape only where a bottom or a top array, or a bottom's shape, changed since this
        # layer's last forward: for the same arrays and shapes it gives the tops they have
        if seen is None or seen[1] != shapes or any(
                a is not b for a, b in zip(bottoms, seen[0])) or any(
                data[t] is not arr for t, arr in zip(node.tops, seen[2])):
            self._reshape_tops(node, layer)
            self._reshaped[i] = (bottoms, shapes, [data[t] for t in node.tops])
        if layer.shares_bottom:
            return
        layer.forward(bottoms, [data[t] for t in node.tops], self.params.get(node.name, ()))

    def backward_layer(self, i):
        """Layer ``i``'s Backward_cpu from the diffs as they are (bottoms and parameters as
        Net::Init decided)."""
        node, layer = self.nodes[i], self.layers[i]
        defer = layer.defers_weight_grad and self.param_need[i][0] and \
            self.deferred.may_defer(self.param_diffs, (node.name, 0))
        if not defer:
            self.settle(i)                # the gradients left before this one go first
        bottom_diffs = [self.diff_of(b) if need else None
                        for b, need in zip(node.bottoms, self.bottom_need[i])]
        param_diffs = [self._param_diff(node.name, k) if need else None
                       for k, need in enumerate(self.param_need[i])]
        top_diffs = [self.diff_of(t) for t in node.tops]
        if defer:
            self.deferred.keep(i, self.data[node.bottoms[0]], top_diffs[0])
            param_diffs[0] = None
            while self.deferred.over():   # the oldest computed to make room
                self._add_weight_grad(*self.deferred.oldest())
        if not any(d is not None for d in bottom_diffs + param_diffs):
            return
        layer.backward([self.data[b] for b in node.bottoms],
                       [self.data[t] for t in node.tops], bottom_diffs, top_diffs,
                       self.params.get(node.name, ()), param_diffs)

    def can_backward(self, start, end):
        """Whether every layer ``start`` down to ``end`` that takes part in backward has
        Caffe's Backward_cpu here, with the state of its last forward."""
        return all(self.layers[i].can_backward() for i in range(end, start + 1)
                   if self.layer_need[i])

    def backward(self, start=None, end=0):
        """Caffe's BackwardFromTo: layers ``start`` (default the last) down to ``end``, each
        reading its top diffs and assigning the bottom diffs it propagates to and adding into
        its parameter diffs (Net::Init's choice of layers, bottoms and parameters)."""
        start = len(self.nodes) - 1 if start is None else start
        numpy_blas.limit_once()
        for i in range(start, end - 1, -1):
            if self.layer_need[i]:
                self.backward_layer(i)

    # ------------------------------------------------------------------ the net's parts
    def blob_loss_weights(self):
        """Blob name -> loss weight of its last producer (Caffe's blob_loss_weights_)."""
        return {top: w for node, weights in zip(self.nodes, self.node_weights)
                for top, w in zip(node.tops, weights)}

    def share_trained_layers(self, source, check_only=False):
        """Caffe's Net::ShareTrainedLayersWith: this net's layers named as a layer of
        ``source`` (an ArrayNet) take its parameter arrays; counts and shapes are checked
        for every layer first (NetError), ``check_only``: nothing shared."""
        shared = []
        for name, arrays in source.params.items():
            mine = self.params.get(name)
            if mine is None:
                continue
            if len(mine) != len(arrays):
                raise NetError(f"cannot share layer '{name}' with net '{self.name}': "
                               f"{len(arrays)} vs {len(mine)} parameter blobs")
            for j, (a, b) in enumerate(zip(arrays, mine)):
                if a.shape != b.shape:
                    raise NetError(f"cannot share param {j} of layer '{name}' with net "
                                   f"'{self.name}': shape {a.shape} vs {b.shape}")
            shared.append((name, arrays))
        if not check_only:
            for name, arrays in shared:
                self.params[name] = arrays

    def layer(self, name):
        """Layer ``name`` as the net's summaries read it (``blobs``: its parameter arrays)."""
        return types.SimpleNamespace(blobs=self.params.get(name, []))

    def close(self):
        """Stop the data layers' threads and close their databases."""
        for layer in self.layers:
            if layer.is_data:
                layer.close()

    # ------------------------------------------------------------------ weights
    def copy_from(self, path, coverage=None):
        """Caffe's CopyTrainedLayersFrom from a binary caffemodel: blobs by layer name, layers
        the net lacks ignored, layers of the net the file lacks said by a
        :class:`~caffe_compat.errors.WeightsMismatchWarning`
        (:mod:`caffe_compat.diagnostics.weights_coverage`; ``coverage``: one that counts the
        file and reports nothing). A file whose blobs do not fit (count or shape) raises
        :class:`Unsupported` with nothing copied: the torch engine reports it."""
        src, values = caffemodel_io.read_caffemodel_values(os.fspath(path))
        matched, _, problems = blobproto.layer_blob_arrays(
            src, values, os.fspath(path),
            lambda name: None if name not in self.index else
            [a.shape for a in self.params.get(name, ())])
        if problems:
            raise Unsupported(problems[0])
        cover = self.weights_coverage() if coverage is None else coverage
        cover.add(os.fspath(path), [(lp.name, len(lp.blobs)) for lp in src.layer])
        if coverage is None:
            cover.report()      # before the copy: raised as an error, it leaves the net as is
        for name, arrays in matched:
            for k, (arr, value) in enumerate(zip(self.params.get(name, ()), arrays)):
                np.copyto(arr, np.asarray(value).reshape(arr.shape), casting="unsafe")
                self.unfilled.discard((name, k))

    def weights_coverage(self):
        """A :class:`~caffe_compat.diagnostics.weights_coverage.WeightsCoverage` of this net
        (the array engine shares no parameter between layers)."""
        from ..diagnostics.weights_coverage import WeightsCoverage
        layers = [(node.name, [(node.name, k) for k in range(len(self.params.get(node.name, ())))])
                  for node in self.nodes]
        return WeightsCoverage(self.name, layers, self.graph.defined_at)

    def to_proto(self, with_blobs=False):
        """The net's layers as Caffe's Net::ToProto writes them, ``with_blobs`` or without
        blob values."""
        out = caffe_pb2.NetParameter()
        out.name = self.name
        for node in self.nodes:
            lp = out.layer.add()
            lp.CopyFrom(node.param)
            del lp.blobs[:]
            if with_blobs:
                for a in self.params.get(node.name, ()):
                    lp.blobs.add().CopyFrom(caffemodel_io.array_to_blob(a))
        return out

    def _blob_values(self):
        """Per layer, ``[(parameter values, float64?)]``
        (:mod:`caffe_compat.net.caffemodel_out`)."""
        return [[(a, False) for a in self.params.get(node.name, ())] for node in self.nodes]


_FILLERS = ("constant", "uniform", "xavier")


def _check_filler(fp, layer_name):
    """:class:`Unsupported` for a filler the array engine does not draw: the gaussian and msra
    fillers draw from torch's generator, sparse ones likewise."""
    if fp is not None and (fp.type not in _FILLERS or fp.sparse != -1):
        raise Unsupported(f"layer '{layer_name}': {fp.type} filler")
    if fp is not None and fp.type == "uniform" and not (
            np.isfinite(np.float32(fp.min)) and np.isfinite(np.float32(fp.max))
            and fp.min <= fp.max):
        raise Unsupported(f"layer '{layer_name}': uniform filler bounds")


# the fillers whose draws come from torch's generator: deferred with ``defer_fills``
_DEFERRED = ("gaussian", "msra")


def _deferred(fp):
    """Whether ``fp`` is a filler drawn from torch's generator alone (not Caffe's stream),
    which a net may leave for later: a non-sparse gaussian or msra."""
    return fp is not None and fp.type in _DEFERRED and fp.sparse == -1


def _filled(arr, fp):
    """``arr`` filled as Caffe's filler ``fp`` fills it: constant, or uniform and xavier
    drawn from the thread's Caffe stream (``caffe_rng_uniform``, the draws the torch engine
    takes in the same order)."""
    if fp is None or not arr.size:
        return arr
    if fp.type == "constant":
        if np.float32(fp.value) != 0:      # the array is zeros already (untouched pages)
            arr[...] = np.float32(fp.value)
        return arr
    if fp.type == "uniform":
        low, high = np.float32(fp.min), np.float32(fp.max)
    else:
        high = np.sqrt(np.float32(3) / np.float32(norm_n(fp, arr.shape)))
        low = -high
    arr[...] = caffe_rng_uniform(thread_stream(), arr.size, low, high).reshape(arr.shape)
    return arr
