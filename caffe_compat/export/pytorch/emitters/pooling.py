"""Pooling: Caffe's geometry (ceil rounding, the last-window rule, windows clipped to the
input, AVE's divisor) through the helpers ``max_pool``/``ave_pool``, which use torch's pooling
where its windows are Caffe's and pad explicitly elsewhere (see :mod:`..helpers`)."""
from ....proto import caffe_pb2
from ....rules import pooling as pool_rule
from ....rules.fields import ENGINE_FIELD, declare
from ..codegen import literal
from ..registry import register_emitter

P = caffe_pb2.PoolingParameter


# STOCHASTIC pooling has no emitter (the export stops, naming the layer)
declare("pytorch-source", "Pooling", "PoolingParameter", pool_rule.FIELDS - {"pool"},
        refuses={"pool"}, no_effect=ENGINE_FIELD)


@register_emitter("Pooling")
def pooling(e):
    m = e.module
    if len(e.node.tops) != 1:
        e.fail("MAX pooling's mask top is not exported; export the pooled blob only")
    if m.method == P.STOCHASTIC:
        e.fail("STOCHASTIC pooling has no PyTorch emitter (its TEST rule is Caffe's GPU "
               "kernel only); export the blobs before it")
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
