"""Embed, BatchReindex and Filter: rows picked by index or by a selector. Embed and
BatchReindex: ONNX's ``Gather`` on axis 0 of the indices cast to integers (``Cast`` truncates
toward zero, as Caffe's ``static_cast<int>``).

Embed (:mod:`caffe_compat.rules.embed`): the rows of the weights ``(K, N)``, plus the bias.
BatchReindex (:mod:`caffe_compat.rules.batch_reindex`): the items of the first bottom. An index
outside ``[0, K)`` (the rows, the items) is the torch engine's error (Caffe does not check it);
ONNX's ``Gather`` refuses one past the end and counts a negative one from the end.

Filter (:mod:`caffe_compat.layers.filter`): ``Compress`` of every bottom but the last along
axis 0 by the condition ``selector != 0`` (``Not(Equal)``: NaN keeps its item, as Caffe's C++
truth test). The number of items kept varies with the data, as in Caffe: an export's graph
(free batch) writes it, with the shapes the built net reports (every item, as Caffe sizes the
tops when it builds the net); the torch-free path's fixed shapes cannot hold it."""
from ...rules.batch_reindex import batch_reindex_top_shape
from ...rules.embed import FIELDS, FILLERS, embed_rule
from ._common import INT64, Unsupported, blob_count, declare, param_blob, register

# the weights come from the caffemodel only (a missing blob, which a filler would fill, goes
# to the torch path)
declare("lite", "Embed", "EmbedParameter", FIELDS, refuses=FILLERS)


def _rows(g, table, index):
    return g.op("Gather", [table, g.op("Cast", [index], {"to": INT64})], {"axis": 0})


@register("Embed")
def embed(g, lp, bottoms, blobs):
    x, = bottoms
    rule = embed_rule(lp)
    shapes = rule.blob_shapes()
    blob_count(lp, blobs, len(shapes))
    weight, *bias = [param_blob(lp, blobs, k, s) for k, s in enumerate(shapes)]
    y = _rows(g, g.constant(weight), x)
    if bias:
        y = g.op("Add", [y, g.constant(bias[0])])
    return [type(x)(y, rule.top_shape(x.shape))]


@register("BatchReindex")
def batch_reindex(g, lp, bottoms, blobs):
    x, index = bottoms
    shape = batch_reindex_top_shape(lp, [x.shape, index.shape])
    return [type(x)(_rows(g, x, index), shape)]


@register("Filter")
def filter_(g, lp, bottoms, blobs):
    if not g.batch_free:
        raise Unsupported(f"layer '{lp.name}': Filter's item count depends on the data")
    *data, selector = bottoms
    flat = g.op("Reshape", [selector, g.const([-1])])
    keep = g.op("Not", [g.op("Equal", [flat, g.const(0.0)])])
    return [type(b)(g.op("Compress", [b, keep], {"axis": 0}), b.shape) for b in data]
