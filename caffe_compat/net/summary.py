"""What Caffe's ``Net::Init`` reports about a net, and what each layer costs.

:func:`layer_reports` walks a built :class:`caffe_compat.Net` as ``Net::Init`` does
(src/caffe/net.cpp): every layer in run order (Split layers included), its bottoms and tops,
each top's shape, its loss weights, Caffe's running ``memory_used_`` (every top's element
count, in-place tops counted again, times ``sizeof(Dtype)``), its parameter blobs, whether it
needs backward (:mod:`caffe_compat.net.backward_needs`' rule) and its FLOPs.
:func:`log_net_init` writes ``Net::Init``'s INFO lines with their source locations
(``net.cpp:86] Creating Layer conv1``, ``net.cpp:131] Top shape: ...``, ``net.cpp:139]
Memory required for data: ...``, ``net.cpp:200] ... needs backward computation.``, ...) for
Caffe's log parsers; layer-specific lines are not written. :func:`format_net_summary` is the
table of ``caffe-compat inspect NET.prototxt``.

FLOPs count a forward pass's arithmetic for the net's batch, by layer type (the
``summary-flops`` cost table of :mod:`caffe_compat.rules.registry`, registered by
:func:`flop_rule`): 2 per multiply-add of Convolution, Deconvolution and InnerProduct plus 1
per bias add; 1 per window element of Pooling; 1 per element for elementwise layers; Eltwise
1 per element per extra bottom; BatchNorm 2 and Scale/Bias 1 per element; LRN
``local_size + 2`` per element; Softmax 3 and the losses 3 per bottom element; layers that
only move or view data count 0."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..rules import registry
from .backward_needs import backward_needs
from .rules import rule_miss

__all__ = ["LayerReport", "layer_reports", "log_net_init", "format_net_summary",
           "flop_rule", "shape_string", "net_totals", "rule_messages", "log_built_net"]


@dataclass
class LayerReport:
    """One layer as Net::Init sets it up (see the module doc)."""
    name: str
    type: str
    bottoms: list
    tops: list
    in_place: list
    top_shapes: list
    loss_weights: list
    param_shapes: list
    param_count: int
    flops: int
    memory_after: int              # Caffe's "Memory required for data" after this layer, bytes
    top_bytes: int = 0             # this layer's share of it (its tops)
    need_backward: bool = False
    shared: list = field(default_factory=list)   # (param name, owner layer, owner index)


def shape_string(shape):
    """Caffe's ``Blob::shape_string``: ``8 64 92 92 (4333568)``; ``(1)`` for a scalar."""
    dims = "".join(f"{int(d)} " for d in shape)
    return f"{dims}({math.prod(shape)})"


# ------------------------------------------------------------------------------ FLOP rules
# @flop_rule(*type_names): fn(report, lp, bottom shapes, top shapes) is the FLOP count of a
# layer of each type (its entry in the registry's summary-flops table)
flop_rule = registry.registrar("summary-flops", "summary FLOP rule")


@flop_rule("Convolution", "Deconvolution")
def _conv(r, lp, bottoms, tops):
    # a convolution's MACs: each top value over cin / groups x kernel; a deconvolution's:
    # each bottom value over cout / groups x kernel
    from ..rules.convolution import convolution_rule
    transposed = r.type == "Deconvolution"
    groups = max(convolution_rule(lp, [tuple(b) for b in bottoms], transposed).group, 1)
    kernel = math.prod(r.param_shapes[0][2:]) if r.param_shapes else 0
    spread, inner = (bottoms, tops) if transposed else (tops, bottoms)
    channels = inner[0][1] if len(inner[0]) > 1 else 1
    macs = sum(math.prod(x) for x in spread) * (channels // groups) * kernel
    return 2 * macs + (sum(math.prod(t) for t in tops) if len(r.param_shapes) > 1 else 0)


@flop_rule("InnerProduct")
def _inner_product(r, lp, bottoms, tops):
    if not r.param_shapes:
        return 0
    from ..rules.inner_product import inner_product_rule
    outputs = inner_product_rule(lp, [tuple(b) for b in bottoms]).num_output
    k = math.prod(r.param_shapes[0]) // max(int(outputs), 1)
    out = math.prod(tops[0])
    return 2 * out * k + (out if len(r.param_shapes) > 1 else 0)


@flop_rule("Pooling")
def _pooling(r, lp, bottoms, tops):
    from ..rules.pooling import pooling_rule
    rule = pooling_rule(lp)
    if rule.global_pooling:
        return math.prod(bottoms[0])
    return sum(math.prod(t) for t in tops) * math.prod(rule.kernel)


def _per_top(k, *type_names):
    flop_rule(*type_names)(lambda r, lp, bottoms, tops: k * sum(math.prod(t) for t in tops))


def _per_bottom(k, *type_names):
    flop_rule(*type_names)(lambda r, lp, bottoms, tops: k * sum(math.prod(b) for b in bottoms))


_per_top(1, "ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "Power", "Exp", "Log",
         "Threshold", "Clip", "Swish", "Dropout", "Scale", "Bias", "Reduction", "ArgMax", "Embed")
_per_top(2, "BatchNorm")
_per_top(3, "Softmax")
_per_top(4, "MVN")
_per_bottom(1, "MultinomialLogisticLoss", "Accuracy")
_per_bottom(1.5, "EuclideanLoss")
_per_bottom(2, "HingeLoss")
_per_bottom(3, "SoftmaxWithLoss", "SigmoidCrossEntropyLoss")


@flop_rule("Eltwise")
def _eltwise(r, lp, bottoms, tops):
    return max(len(bottoms) - 1, 0) * math.prod(tops[0])


@flop_rule("LRN")
def _lrn(r, lp, bottoms, tops):
    from ..rules.lrn import lrn_rule
    return (lrn_rule(lp).size + 2) * math.prod(tops[0])


# ------------------------------------------------------------------------------ the walk
def layer_reports(net):
    """A :class:`LayerReport` per layer of ``net`` in run order (see the module doc)."""
    ref = getattr(net, "_ref", None)
    size = int(ref.element_size()) if ref is not None else 4     # sizeof(Dtype)
    reports = []
    memory = 0
    owners = {}
    for node in net.graph.layers:
        lp = node.param
        module = net.layer(node.name)
        blobs = list(getattr(module, "blobs", []))
        in_place = [j < len(node.bottoms) and node.bottoms[j] == t
                    for j, t in enumerate(node.tops)]
        shapes = [tuple(int(d) for d in net.blob_shape(t)) for t in node.tops]
        weights = [float(lp.loss_weight[j]) if j < len(lp.loss_weight) else 0.0
                   for j in range(len(node.tops))]
        top_bytes = sum(math.prod(s) for s in shapes) * size
        memory += top_bytes
        pshapes = [tuple(int(d) for d in p.shape) for p in blobs]
        shared = []
        for i in range(len(blobs)):
            pname = lp.param[i].name if i < len(lp.param) else ""
            if pname:
                if pname in owners:
                    shared.append((pname,) + owners[pname])
                else:
                    owners[pname] = (node.name, i)
        r = LayerReport(node.name, node.type, list(node.bottoms), list(node.tops), in_place,
                        shapes, weights, pshapes, sum(math.prod(s) for s in pshapes), 0, memory,
                        top_bytes, False, shared)
        rule = registry.implementation("summary-flops", node.type)
        bshapes = [tuple(int(d) for d in net.blob_shape(b)) for b in node.bottoms]
        r.flops = int(rule(r, lp, bshapes, shapes)) if rule and shapes else 0
        reports.append(r)
    # Caffe logs which layers need backward before it applies force_backward
    need = backward_needs(net.graph.layers, [len(r.param_shapes) for r in reports],
                          [r.loss_weights for r in reports], False, None)[0]
    for r, layer_need in zip(reports, need):
        r.need_backward = layer_need
    return reports


def net_totals(reports):
    """``(parameters, FLOPs, memory for data in bytes)`` of a net's reports."""
    return (sum(r.param_count for r in reports), sum(r.flops for r in reports),
            reports[-1].memory_after if reports else 0)


def rule_messages(net_param, state):
    """What Caffe's ``Net::FilterNet`` logs while it applies the include/exclude rules of
    ``net_param``'s layers under NetState ``state``: ``(message, location)`` pairs, one per
    rule part that a state does not meet (net.cpp's StateMeetsRule), in layer order."""
    out = []
    for lp in net_param.layer:
        for rule in list(lp.exclude) + list(lp.include):
            miss = rule_miss(state, rule, lp.name)
            if miss is not None:
                out.append(miss)
    return out


def log_net_init(net, log, text=None, rules=()):
    """Write ``Net::Init``'s INFO lines for ``net`` to ``log`` (a SolverLog).

    ``text``: the filtered net as text, printed after ``Initializing net from parameters:``
    as Caffe prints its DebugString (omitted when None); ``rules``: :func:`rule_messages` of
    the net before filtering (the lines of the layers its include/exclude rules removed)."""
    reports = layer_reports(net)
    for message, where in rules:
        log.info(message, where)
    if text is not None:
        log.info("Initializing net from parameters: \n" + text, "net.cpp:53")
    for r in reports:
        log.info(f"Creating layer {r.name}", "layer_factory.hpp:77")
        log.info(f"Creating Layer {r.name}", "net.cpp:86")
        for b in r.bottoms:
            log.info(f"{r.name} <- {b}", "net.cpp:408")
        for t, inplace in zip(r.tops, r.in_place):
            if inplace:
                log.info(f"{r.name} -> {t} (in-place)", "net.cpp:369")
            else:
                log.info(f"{r.name} -> {t}", "net.cpp:382")
        log.info(f"Setting up {r.name}", "net.cpp:124")
        for shape, w in zip(r.top_shapes, r.loss_weights):
            log.info(f"Top shape: {shape_string(shape)}", "net.cpp:131")
            if w:
                log.info(f"    with loss weight {w:g}", "net.cpp:134")
        log.info(f"Memory required for data: {r.memory_after}", "net.cpp:139")
        for pname, owner, index in r.shared:
            log.info(f"Sharing parameters '{pname}' owned by layer '{owner}', param index "
                     f"{index}", "net.cpp:467")
    for r in reversed(reports):
        if r.need_backward:
            log.info(f"{r.name} needs backward computation.", "net.cpp:200")
        else:
            log.info(f"{r.name} does not need backward computation.", "net.cpp:202")
    for name in net.graph.outputs:
        log.info(f"This network produces output {name}", "net.cpp:244")
    log.info("Network initialization done.", "net.cpp:257")
    return reports


def _si(n, unit=""):
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:g} {unit}".rstrip()


def format_net_summary(net, reports=None, source=None):
    """The per-layer table of ``caffe-compat inspect NET.prototxt`` (blob shapes, parameters,
    FLOPs, Caffe's memory count) and the net's totals."""
    reports = reports if reports is not None else layer_reports(net)
    params, flops, memory = net_totals(reports)
    head = f"{source}: " if source else ""
    lines = [f"{head}net '{net.name}', phase {net.phase}, {len(reports)} layers, "
             f"{params:,} parameters ({params * 4 / 2**20:.1f} MiB as float32), "
             f"{_si(flops, 'FLOP')} per forward pass (batch "
             f"{reports[0].top_shapes[0][0] if reports and reports[0].top_shapes else '?'}), "
             f"memory required for data {memory:,} bytes ({memory / 2**20:.1f} MiB)"]
    rows = [("layer", "type", "bottom -> top", "top shape", "params", "FLOPs", "memory")]
    for r in reports:
        link = ", ".join(r.bottoms) + (" -> " if r.bottoms else "-> ") + ", ".join(
            t + (" (in-place)" if ip else "") for t, ip in zip(r.tops, r.in_place))
        shapes = "; ".join("x".join(str(d) for d in s) or "scalar" for s in r.top_shapes) or "-"
        pshape = "  ".join("x".join(str(d) for d in s) for s in r.param_shapes)
        prm = f"{r.param_count:,} ({pshape})" if r.param_shapes else "-"
        rows.append((r.name, r.type, link, shapes, prm, f"{r.flops:,}" if r.flops else "-",
                     f"{r.top_bytes:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6}
    for row in rows:
        lines.append("  " + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                      for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    lines.append(f"  total: {params:,} parameters, {flops:,} FLOPs, {memory:,} bytes of "
                 "blobs (Caffe's 'Memory required for data': every top, in-place tops again)")
    return "\n".join(lines)


def log_built_net(net, log, net_param, state):
    """``Net::Init``'s lines for a net built from ``net_param`` (before the phase rules) under
    NetState ``state``: the rule lines, the filtered net as text, then :func:`log_net_init`.
    Returns the layer reports."""
    from .graph import filter_net
    from ..io.text_print import message_text       # C++'s DebugString, as Caffe logs it
    from ..proto import caffe_pb2
    filtered = filter_net(net_param, caffe_pb2.Phase.Name(state.phase), state.level,
                          list(state.stage))
    filtered.state.CopyFrom(state)
    return log_net_init(net, log, text=message_text(filtered), rules=rule_messages(net_param, state))
