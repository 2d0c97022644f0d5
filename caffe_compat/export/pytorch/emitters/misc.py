"""Axpy, Parameter, Reduction, MVN, Embed and ArgMax.

Axpy (SENet ports) is ``a x + y`` with ``a`` (N, C) broadcast over the spatial axes; Parameter
returns its learned blob; Reduction sums (SUM, ASUM of ``|x|``, SUMSQ of ``x^2``) or averages
(MEAN) every axis from ``axis`` on, times ``coeff``; MVN has the helper ``mvn`` (Caffe's
backward drops a factor ``1 + eps / std`` that autograd keeps: a relative 1e-9 with the default
eps); Embed looks rows up by the bottom's values truncated toward zero (Caffe's
``static_cast<int>``), plus the bias; ArgMax has the helper ``arg_max``: Caffe's top-k with
ties to the larger index, indices as floats, no gradient (Caffe has no backward for it).
"""
from ....proto import caffe_pb2
from ..codegen import literal
from ..registry import register_emitter
from ....rules import mvn as mvn_rules, reduction as reduction_rules
from ....rules.fields import declare
from ...fields import fillers

declare("pytorch-source", "Reduction", "ReductionParameter", reduction_rules.FIELDS)
declare("pytorch-source", "MVN", "MVNParameter", mvn_rules.FIELDS)
declare("pytorch-source", "Parameter", "ParameterParameter", {"shape"})
declare("pytorch-source", "Embed", "EmbedParameter", {"num_output", "input_dim", "bias_term"},
        no_effect=fillers("EmbedParameter"))
declare("pytorch-source", "ArgMax", "ArgMaxParameter", {"out_max_val", "top_k", "axis"})

R = caffe_pb2.ReductionParameter


@register_emitter("Axpy")
def axpy(e):
    a, x, y = e.bottoms
    trailing = len(e.bottom_shapes[1]) - 2
    return f"{a}.reshape({a}.shape[:2] + {literal((1,) * trailing)}) * {x} + {y}"


@register_emitter("Parameter")
def parameter(e):
    return f"{e.parameters(blob=e.weight(e.module.blob, 0))}.blob"


_REDUCE = {R.SUM: "{x}", R.ASUM: "torch.abs({x})", R.SUMSQ: "{x} * {x}", R.MEAN: "{x}"}


@register_emitter("Reduction")
def reduction(e):
    m = e.module
    x = e.bottoms[0]
    ndim = len(e.bottom_shapes[0])
    term = _REDUCE[m.op].format(x=x)
    dims = literal(tuple(range(m.axis, ndim)))
    fn = "mean" if m.op == R.MEAN else "sum"
    out = f"torch.{fn}({term}, dim={dims})" if m.axis < ndim else term
    return out if m.coeff == 1.0 else f"{out} * {literal(m.coeff)}"


@register_emitter("MVN")
def mvn(e):
    m = e.module
    args = [e.bottoms[0]]
    if m.across_channels:
        args.append("across_channels=True")
    if not m.normalize_variance:
        args.append("normalize_variance=False")
    if m.eps != 1e-9:
        args.append(f"eps={literal(m.eps)}")
    return f"{e.helper('mvn')}({', '.join(args)})"


@register_emitter("Embed")
def embed(e):
    m = e.module
    weights = {"weight": e.weight(m.weight, 0)}
    if m.bias_term:
        weights["bias"] = e.weight(m.bias, 1)
    attr = e.parameters(**weights)
    y = f"F.embedding({e.bottoms[0]}.to(torch.int64), {attr}.weight)"
    return f"{y} + {attr}.bias" if m.bias_term else y


@register_emitter("ArgMax")
def arg_max(e):
    m = e.module
    args = [e.bottoms[0], str(m.top_k)]
    if m.out_max_val:
        args.append("out_max_val=True")
    if m.has_axis:
        args.append(f"axis={m.axis}")
    else:
        trailing = len(e.top_shapes[0]) - 3
        if trailing:
            args.append(f"trailing={trailing}")
    return f"{e.helper('arg_max')}({', '.join(args)})"
