"""Filter (:mod:`caffe_compat.layers.filter`): ``Compress`` of every bottom but the last along
axis 0 by the condition ``selector != 0`` (``Not(Equal)``: NaN keeps its item, as Caffe's C++
truth test). The number of items kept varies with the data, as in Caffe: an export's graph
(free batch) writes it, with the shapes the built net reports (every item, as Caffe sizes the
tops when it builds the net); the torch-free path's fixed shapes cannot hold it."""
from ._common import Unsupported, register


@register("Filter")
def filter_(g, lp, bottoms, blobs):
    if not g.batch_free:
        raise Unsupported(f"layer '{lp.name}': Filter's item count depends on the data")
    *data, selector = bottoms
    flat = g.op("Reshape", [selector, g.const([-1])])
    keep = g.op("Not", [g.op("Equal", [flat, g.const(0.0)])])
    return [type(b)(g.op("Compress", [b, keep], {"axis": 0}), b.shape) for b in data]
