"""Pooling: Caffe's geometry (ceil rounding, the last-window rule, windows clipped to the
input, AVE's divisor) through the helpers ``max_pool``/``ave_pool``, which use torch's pooling
where its windows are Caffe's and pad explicitly elsewhere (see :mod:`..helpers`).

SPP through the helper ``spp``: each pyramid level is Caffe's Pooling (``max_pool`` /
``ave_pool``, with their rounding and clipping) of the geometry Caffe's SPPLayer derives from
the input size at run time; the levels flattened and concatenated (one level: not
flattened)."""
from ....proto import caffe_pb2
from ....rules import pooling as pool_rule
from ....rules.fields import ENGINE_FIELD, declare
from ..codegen import literal
from ..registry import register_emitter

P = caffe_pb2.PoolingParameter


# STOCHASTIC pooling, plain or pyramid, has no emitter (the export stops, naming the layer)
declare("pytorch-source", "Pooling", "PoolingParameter", pool_rule.FIELDS - {"pool"},
        refuses={"pool"}, no_effect=ENGINE_FIELD)
declare("pytorch-source", "SPP", "SPPParameter", {"pyramid_height"}, refuses={"pool"},
        no_effect=ENGINE_FIELD)


def _not_stochastic(e, what):
    if e.module.method == P.STOCHASTIC:
        e.fail(f"STOCHASTIC {what} has no PyTorch emitter (its TEST rule is Caffe's GPU kernel "
               "only); export the blobs before it")


@register_emitter("Pooling")
def pooling(e):
    m = e.module
    if len(e.node.tops) != 1:
        e.fail("MAX pooling's mask top is not exported; export the pooled blob only")
    _not_stochastic(e, "pooling")
    fn = e.helper("max_pool" if m.method == P.MAX else "ave_pool")
    kernel = None if m.kernel is None else tuple(m.kernel)
    args = [e.bottoms[0], literal(kernel)]
    if tuple(m.stride) != (1, 1):
        args.append(f"stride={literal(tuple(m.stride))}")
    if tuple(m.pad) != (0, 0):
        args.append(f"pad={literal(tuple(m.pad))}")
    if not m.ceil:
        args.append("ceil=False")
    return f"{fn}({', '.join(args)})"


@register_emitter("SPP")
def spp(e):
    m = e.module
    _not_stochastic(e, "pyramid pooling")
    maximum = "" if m.method == P.MAX else ", maximum=False"
    return f"{e.helper('spp')}({e.bottoms[0]}, {m.height}{maximum})"
