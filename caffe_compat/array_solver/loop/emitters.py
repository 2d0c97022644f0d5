"""The layers of the array engine's compiled loop: one emitter per layer type (registered by
:func:`~.program.emitter`), writing the layer's operations as ArrayNet's per-layer loop runs
it."""
from __future__ import annotations

import math

from ...kernels import caffe_products
from ...rules import inner_product as ip_rule
from ...rules.fields import ENGINE_FIELD, declare
from .program import Refused, emitter

# an ignore_label leaves the layer to the per-layer loop
declare("array-loop", "Accuracy", "AccuracyParameter", {"top_k", "axis"},
        refuses={"ignore_label"})
declare("array-loop", "HDF5Data", "HDF5DataParameter", {"source", "batch_size"},
        refuses={"shuffle"})
# the fillers the array engine does not draw never reach the loop
declare("array-loop", "InnerProduct", "InnerProductParameter", ip_rule.FIELDS,
        refuses=ip_rule.FILLERS, no_effect=ENGINE_FIELD)
# a negative slope leaves the layer to the per-layer loop
declare("array-loop", "ReLU", "ReLUParameter", (), refuses={"negative_slope"},
        no_effect=ENGINE_FIELD)
declare("array-loop", "SoftmaxWithLoss", "SoftmaxParameter", {"axis"}, no_effect=ENGINE_FIELD)


def _rows(prog, node, layer, what):
    """``(M, C)`` of a layer on rows (one score per class and item): its scores' bottom and
    its labels' checked, :class:`Refused` with ``what`` otherwise."""
    x_name, label_name = node.bottoms
    shape = prog.shape(x_name)
    if layer.ignore is not None or math.prod(shape[layer.axis + 1:]) != 1:
        raise Refused(f"{what} other than rows without ignore_label")
    m, c = math.prod(shape[:layer.axis]), shape[layer.axis]
    if m == 0 or prog.count(label_name) != m:
        raise Refused(f"{what} sizes")
    return m, c


@emitter("Accuracy")
class _Accuracy:
    """The layer's row form (one score per class and item, every label counted): the classes
    scoring at least the true one counted, ``correct / M`` in float32. Labels out of range
    stop the loop before the iteration."""

    def forward(self, prog, i, node, layer):
        m, c = _rows(prog, node, layer, "Accuracy")
        prog.op("ACCURACY", prog.data(node.bottoms[0]), prog.data(node.bottoms[1]),
                prog.data(node.tops[0]), m, c, layer.top_k)

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        pass


@emitter("HDF5Data")
class _HDF5Data:
    """The next rows of a file held in memory, in file order (HDF5Source.next_batch's fast
    branch), copied into the tops' arrays as ArrayNet.forward_layer copies them; the loop
    stops before a batch that would reach the end of the file, which Python serves (it opens
    the next file)."""

    def forward(self, prog, i, node, layer):
        src = layer.source
        if src.shuffle or src.count != 1:
            raise Refused("shuffled or sharded HDF5 data")
        slot, batch = prog.hdf5_source(src)
        for k, top in enumerate(node.tops):
            row = prog.count(top) // batch
            if prog.shape(top)[0] != batch or row * batch != prog.count(top):
                raise Refused("HDF5Data top shape")
            prog.op("DATA", prog.hdf5_rows(src, k), slot, row, prog.data(top), batch)

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        pass


@emitter("InnerProduct")
class _InnerProduct:
    """The layer's forward (the Caffe-order product of ``caffe_products``' kernel choice, then
    the bias) and its backward for small products (OP_AIP_BWD, what the layer's
    ``_small_backward`` computes)."""

    def _sizes(self, prog, node, layer):
        count = prog.count(node.bottoms[0])
        m = count // layer.k if layer.k else 0
        if m == 0 or m * layer.k != count or m * layer.n * layer.k > caffe_products.SMALL_MNK:
            raise Refused("InnerProduct beyond the small products")
        return m, layer.n, layer.k

    def forward(self, prog, i, node, layer):
        m, n, k = self._sizes(prog, node, layer)
        b = prog.param(node.name, 1) if layer.bias_term else -1
        prog.op("IP_FWD", prog.data(node.bottoms[0]), prog.param(node.name, 0), b,
                prog.data(node.tops[0]), m, n, k,
                caffe_products.inner_product_kind(m, n, k, layer.transpose),
                int(layer.transpose))

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        m, n, k = self._sizes(prog, node, layer)
        want_w = param_need[0]
        want_b = layer.bias_term and param_need[1]
        if not (bottom_need[0] or want_w or want_b):
            return
        gx = prog.diff(node.bottoms[0]) if bottom_need[0] else -1
        gw = prog.param_diff(node.name, 0) if want_w else -1
        gb = prog.param_diff(node.name, 1) if want_b else -1
        prog.op("AIP_BWD", prog.diff(node.tops[0]), prog.data(node.bottoms[0]),
                prog.param(node.name, 0), gx, gw, gb, prog.scratch(n * k), prog.scratch(n),
                m, n, k, int(layer.transpose))


@emitter("ReLU")
class _ReLU:
    """``max(x, 0)`` as numpy's maximum gives it; backward Caffe's ``dy * (x > 0)``."""

    def forward(self, prog, i, node, layer):
        if layer.slope != 0:
            raise Refused("ReLU with a negative slope")
        prog.op("ARELU_FWD", prog.data(node.bottoms[0]), prog.data(node.tops[0]),
                prog.count(node.bottoms[0]))

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        if bottom_need[0]:
            prog.op("ARELU_BWD", prog.diff(node.tops[0]), prog.data(node.bottoms[0]),
                    prog.diff(node.bottoms[0]), prog.count(node.bottoms[0]))


@emitter("SoftmaxWithLoss")
class _SoftmaxWithLoss:
    """The layer's row form (one score per class and item, no ignored label): what
    ``kernels.array_loop.softmax_loss_rows`` computes, the loss into the top's array; backward
    ``(p - onehot) * (dloss / norm)``. Labels out of range stop the loop before the
    iteration, and Python reports them."""

    def forward(self, prog, i, node, layer):
        if len(node.tops) != 1:
            raise Refused("SoftmaxWithLoss other than rows without ignore_label")
        m, c = _rows(prog, node, layer, "SoftmaxWithLoss")
        norm = layer.loss.normalizer(m, 1, m)
        prob = prog.scratch(m * c)
        prog.op("ASMLOSS_FWD", prog.data(node.bottoms[0]), prog.data(node.bottoms[1]), prob,
                prog.data(node.tops[0]), m, c, prog.const(norm))
        prog.saved[i] = (prob, m, c, norm)

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        if not bottom_need[0]:
            return
        prob, m, c, norm = prog.saved[i]
        prog.op("SMLOSS_BWD", prob, prog.data(node.bottoms[1]), prog.diff(node.tops[0]),
                prog.diff(node.bottoms[0]), m, c, prog.const(norm))


@emitter("Split")
class _Split:
    """The tops are the bottom's array (nothing to run); backward the first top's diff
    copied, the others added in order."""

    def forward(self, prog, i, node, layer):
        pass

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        if not bottom_need[0]:
            return
        count = prog.count(node.bottoms[0])
        dx = prog.diff(node.bottoms[0])
        diffs = [prog.diff(t) for t in node.tops]
        prog.op("COPY", diffs[0], dx, count)
        for d in diffs[1:]:
            prog.op("ADD", dx, d, dx, count)
