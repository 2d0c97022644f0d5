"""InnerProduct in the array engine's compiled loop."""
from __future__ import annotations

from ...kernels import caffe_products
from ...rules import inner_product as ip_rule
from ...rules.fields import ENGINE_FIELD, declare
from .program import Refused, emitter

# the fillers the array engine does not draw never reach the loop
declare("array-loop", "InnerProduct", "InnerProductParameter", ip_rule.FIELDS,
        refuses=ip_rule.FILLERS, no_effect=ENGINE_FIELD)


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
