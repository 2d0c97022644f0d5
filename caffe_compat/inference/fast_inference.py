"""The inference plan: a net's no-grad forward with Convolution / InnerProduct -> BatchNorm ->
Scale / Bias -> ReLU chains folded into one layer, as OpenCV's dnn does, on every device.

A 2-D Convolution (channel axis 1) or InnerProduct (axis 1) followed by ``BatchNorm`` with
global statistics (``(y - m) / sqrt(v + eps)``, m and v the stored sums over the scale factor,
0 where it is 0), ``Scale`` / ``Bias`` with one learned value per channel of axis 1, then a
``ReLU`` (any slope), is one layer: ``W' = W * a``, ``b' = (b - m) * a + t`` per output channel,
computed in float64 on the parameters' device and rounded once to the net's dtype, the ReLU in
place on its output. A chain folds only where nothing else reads its intermediate blobs (no
other consumer, loss weight or caller asking for them). BatchNorm / Scale (-> ReLU) after any
other layer is one ``x * a + b`` (:class:`FoldedAffine`). The plan runs as steps decided once
(:mod:`caffe_compat.inference.fast_run`).

What differs by device is a row of :data:`ROWS`: ``cpu`` runs oneDNN's convolution with the
ReLU or an Eltwise SUM as post-ops on weights packed once, channels-last blobs through
Pooling, LRN and Concat (:mod:`caffe_compat.inference.fast_layers`) and per-step thread
counts, in float32; ``cuda`` (every other device) runs ``F.conv2d`` / ``F.linear`` on the
folded weights with the sum and ReLU in place, NCHW, in float32, float16 or bfloat16, and
under autocast. Only rounding changes (bounded by the tests against the layer-by-layer and
the unfolded float64 forwards, on both rows). Cached weights follow the parameters
(:func:`caffe_compat.layers.base.weights_key`).

When (:func:`applies`): under ``no_grad`` / ``inference_mode``, in a dtype of the device's row,
with :data:`ENABLED` (``CAFFE_COMPAT_FAST_INFERENCE=0`` turns it off) and the net's
``fast_inference`` attribute true; never under CPU autocast (oneDNN's calls would stay float32
where the layers' would not) nor with ``blas_order.INFERENCE``. Training never uses it."""
from __future__ import annotations

import os
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..kernels import blas_order
from . import fast_layers, fast_run, graph_replay
from .fast_layers import channels_last
from ..layers.base import weights_key
from ..layers.convolution import one_channel_conv2d
from ..layers.inner_product import ROW_BLOCK
from ..rules.eltwise import SUM

ENABLED = os.environ.get("CAFFE_COMPAT_FAST_INFERENCE", "1") != "0"
# the single steps, for measuring what each buys (benchmarks/bench_zoo.py --steps)
FOLD = True            # fold BatchNorm / Scale into the convolution
CHANNELS_LAST = True   # run the folded convolutions in channels-last layout (rows that do)
FUSE_RELU = True       # apply a following ReLU in place on the convolution's output
LAYOUT_LAYERS = True   # pooling / LRN / concat in channels-last (caffe_compat.inference.fast_layers)
COMPILED_RUN = True    # run the plan as steps decided once (caffe_compat.inference.fast_run)
PACKED_WEIGHTS = True  # folded weights reordered once into oneDNN's blocked layout
AFFINE = True          # BatchNorm / Scale / ReLU after no convolution: one x * a + b

# oneDNN's fused convolution (ReLU / sum post-ops) on weights packed once: torch's private
# operators, kept for the figure in docs/threads.md's table (MobileNet v2 at batch 8 1.35x the
# time without them); without them (a torch without oneDNN) the CPU row runs the folded
# convolution as F.conv2d with the ReLU and the sum after it
ONEDNN_POST_OPS = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, "_convolution_pointwise")
# weights reordered ahead of the call (torch builds with oneDNN's weight-reorder op)
ONEDNN_PACKING = ONEDNN_POST_OPS and hasattr(torch.ops.mkldnn, "_reorder_convolution_weight")


class DeviceRow(NamedTuple):
    """What the plan does on one kind of device (module doc)."""
    onednn: bool           # oneDNN's convolution with post-ops and packed weights
    channels_last: bool    # folded convolutions and the layers between them channels-last
    thread_steps: bool     # one thread for a small step, all for a large one (parallel.threads)
    dtypes: tuple          # the net dtypes the plan runs in
    autocast: bool         # whether it runs under the device's autocast


ROWS = {
    "cpu": DeviceRow(ONEDNN_POST_OPS, True, True, (torch.float32,), False),
    "cuda": DeviceRow(False, False, False, (torch.float32, torch.float16, torch.bfloat16), True),
}
# None: the row of the net's device ("cpu" on the CPU, "cuda" on every other); a name: that
# row whatever the device, so that tests run the CUDA row's calls on CPU tensors
ROW = None


def row_name(net):
    """The name of the row of :data:`ROWS` that ``net``'s forward takes."""
    return ROW or ("cpu" if net._ref.device.type == "cpu" else "cuda")


def applies(net):
    """Whether ``net``'s forward may take the plan now."""
    if not (ENABLED and FOLD and getattr(net, "fast_inference", True)
            and not torch.is_grad_enabled() and not blas_order.INFERENCE
            and not torch.jit.is_tracing()):
        return False
    ref, row = net._ref, ROWS[row_name(net)]
    if not row.autocast and torch.is_autocast_enabled(ref.device.type):
        return False
    return ref.dtype in row.dtypes


def layout_layers(net):
    """Whether Pooling, LRN and Concat take their channels-last forms in ``net``'s forward."""
    return applies(net) and CHANNELS_LAST and LAYOUT_LAYERS and ROWS[row_name(net)].channels_last


def _readers(net):
    readers = {}
    for node, _, _, _ in net._nodes:
        for b in node.bottoms:
            readers.setdefault(b, []).append(node.index)
    return readers


def _per_channel(module, rule):
    """Whether a Scale / Bias ``rule`` is one learned value per channel of axis 1."""
    ndim = len(module.bottom_shapes[0])
    return (len(module.bottom_shapes) == 1 and rule.learned is not None
            and len(rule.learned) == 1 and ndim >= 2 and rule.axis_param in (1, 1 - ndim))


def _foldable(module, node):
    """The kind of link ``module`` can be in a folded chain, or None."""
    t = node.type
    if len(node.bottoms) != 1 or len(node.tops) != 1:
        return None
    if t == "BatchNorm" and module.use_global_stats:
        return "bn"
    if t in ("Scale", "Bias") and _per_channel(module, module.rule):
        return t.lower()
    return "relu" if t == "ReLU" else None


def _conv_ok(module, node):
    return (node.type == "Convolution" and module.n == 2 and module.axis == 1
            and len(node.bottoms) == 1 and len(node.tops) == 1
            and len(module.bottom_shapes[0]) == 4
            and not any(module.rule.far_padding(module.bottom_shapes[0][2:])))


def _ip_ok(module, node):
    return (node.type == "InnerProduct" and module.axis == 1 and len(node.bottoms) == 1
            and len(node.tops) == 1)


class Plan:
    """The folded chains of a net for one set of kept blobs and one device row: ``replace``
    maps a node index to (callable, bottom names, top names) run in its place, ``skip`` holds
    the indices of the layers folded into another."""

    def __init__(self, net, keep=(), row="cpu"):
        keep = set(keep or ()) | set(net.graph.outputs)
        self.row = ROWS[row]
        cl = CHANNELS_LAST and self.row.channels_last
        readers = _readers(net)
        nodes = net._nodes
        self.replace, self.skip, self.chains = {}, set(), []
        i = 0
        while i < len(nodes):
            node, key, weights, _ = nodes[i]
            module = net.layers[key]
            kind = _foldable(module, node) if FOLD and AFFINE and not any(weights) else None
            if kind in ("bn", "scale") and len(module.bottom_shapes[0]) >= 2:
                # BatchNorm / Scale (-> Scale -> ReLU) after no convolution: one x * a + b
                chain, blob, j = self._walk(net, nodes, readers, keep, i + 1, node.tops[0],
                                            [(kind, module)])
                self.replace[node.index] = (FoldedAffine([m for _, m in chain]),
                                            tuple(node.bottoms), (blob,))
                self.chains.append((node.name, [nodes[k][0].name for k in range(i + 1, j)]))
                i = j
                continue
            conv = _conv_ok(module, node)
            if not (conv or _ip_ok(module, node)) or any(weights):
                fn = fast_layers.replacement(module, node) \
                    if cl and LAYOUT_LAYERS and not any(weights) else None
                if fn is not None:
                    self.replace[node.index] = (fn, tuple(node.bottoms), tuple(node.tops))
                i += 1
                continue
            chain, blob, j = self._walk(net, nodes, readers, keep, i + 1, node.tops[0], [])
            links = [m for _, m in chain]
            names = [nodes[k][0].name for k in range(i + 1, j)]
            fused_sum = self._sum_after(net, nodes, readers, keep, i, j, blob, chain) \
                if conv else None
            if fused_sum is not None:
                # conv (+ BN/Scale) -> Eltwise SUM (-> ReLU): one call adding the other
                # operand (and the ReLU) to the convolution's output
                e, other, top, relu_node = fused_sum
                self.skip.update({node.index} | {k for k in range(i + 1, j)})
                fc = FoldedConv(module, links, self.row, add=True,
                                relu=relu_node is not None)
                self.replace[e.index] = (fc, (node.bottoms[0], other), (top,))
                if relu_node is not None:
                    self.skip.add(relu_node.index)
                self.chains.append((node.name, names + [e.name] + (
                    [relu_node.name] if relu_node is not None else [])))
            elif chain or (conv and cl):
                folded = FoldedConv(module, links, self.row) if conv else \
                    FoldedInnerProduct(module, links)
                self.replace[node.index] = (folded, tuple(node.bottoms), (blob,))
                self.chains.append((node.name, names))
            i = j

    def _walk(self, net, nodes, readers, keep, j, blob, chain):
        """Extend ``chain`` by the BatchNorm / Scale / Bias / ReLU layers from ``nodes[j]`` on
        that can be folded into what makes ``blob``: (chain, last blob, index after it)."""
        while j < len(nodes):
            nxt, nkey, nweights, _ = nodes[j]
            kind = _foldable(net.layers[nkey], nxt)
            # a ReLU ends the chain
            if kind is None or nxt.bottoms[0] != blob or any(nweights) or \
                    any(k == "relu" for k, _ in chain):
                break
            in_place = nxt.tops[0] == blob
            # the blob before this link must be read by this link only (in place: no one
            # else can read the overwritten version, as the link comes right after)
            later = [k for k in readers.get(blob, []) if k > nodes[j - 1][0].index]
            if not in_place and (later != [nxt.index] or blob in keep):
                break
            chain.append((kind, net.layers[nkey]))
            self.skip.add(nxt.index)
            blob = nxt.tops[0]
            j += 1
        return chain, blob, j

    def compiled(self, net, keep):
        """The plan's :class:`~caffe_compat.inference.fast_run.CompiledRun` (None: the general loop)."""
        if not COMPILED_RUN:
            return None
        if not hasattr(self, "_run"):
            # an output-only forward on a device that captures: replayed where shapes repeat
            self._run = graph_replay.wrap(net, fast_run.compile_run(net, self, keep), keep)
        return self._run

    def _sum_after(self, net, nodes, readers, keep, i, j, blob, chain):
        """(Eltwise node, its other bottom, final top, ReLU node or None) when the chain
        ending at ``nodes[j-1]`` feeds a plain two-input Eltwise SUM that can take it in."""
        if not FUSE_RELU or any(k == "relu" for k, _ in chain) or j >= len(nodes):
            return None
        conv = net.layers[nodes[i][1]]
        if self.row.onednn and (not CHANNELS_LAST or conv.channels // conv.group == 1):
            return None       # oneDNN's post-op on channels-last only; one channel: im2col
        e, ekey, eweights, _ = nodes[j]
        em = net.layers[ekey]
        if e.type != "Eltwise":
            return None
        if em.op != SUM or \
                any(c != 1.0 for c in em.coeffs) or len(e.bottoms) != 2 or len(e.tops) != 1 \
                or any(eweights) or e.bottoms[0] == e.bottoms[1] or blob not in e.bottoms:
            return None
        if [k for k in readers.get(blob, []) if k > nodes[j - 1][0].index] != [e.index] \
                or blob in keep:
            return None
        conv_in = nodes[i][0].bottoms[0]
        if any(k > nodes[i][0].index for k in readers.get(conv_in, [])) or conv_in in keep:
            return None       # the convolution's input must stay alive up to the Eltwise
        other = e.bottoms[1] if e.bottoms[0] == blob else e.bottoms[0]
        top, relu_node = e.tops[0], None
        if j + 1 < len(nodes):
            r, rkey, rweights, _ = nodes[j + 1]
            if (r.type == "ReLU" and net.layers[rkey].slope == 0.0 and r.bottoms == [top]
                    and len(r.tops) == 1 and not any(rweights)
                    and (r.tops[0] == top or ([k for k in readers.get(top, []) if k > e.index]
                                              == [r.index] and top not in keep))):
                relu_node, top = r, r.tops[0]
        return e, other, top, relu_node


def _channels_last_weight(w):
    """``w`` (O, I, kh, kw) in channels-last strides that torch reads as channels-last even
    for a 1 x 1 kernel: ``contiguous(memory_format=channels_last)`` keeps a 1 x 1 kernel's
    NCHW strides, and oneDNN then gives an NCHW output for an input whose batch of one has an
    ambiguous stride, so the next layers convert it back at every step."""
    o, i, kh, kw = w.shape
    out = torch.empty_strided(w.shape, (i * kh * kw, 1, kw * i, i), dtype=w.dtype,
                              device=w.device)
    return out.copy_(w)


def _float64(t):
    return t.detach().to(torch.float64)


def fold_links(links, a, b):
    """``y * a + b`` (float64, per channel) followed by the BatchNorm / Scale / Bias ``links``,
    as one per-channel ``y * a' + b'``: (a', b'), on the parameters' device without reading
    a value back to the host."""
    for m in links:
        name = m.type_name
        if name == "BatchNorm":
            s = _float64(m.scale_factor)[0]
            factor = torch.where(s == 0, torch.zeros_like(s), 1.0 / s)
            inv = 1.0 / torch.sqrt(_float64(m.variance) * factor + m.eps)
            b = (b - _float64(m.mean) * factor) * inv
            a = a * inv
            if m.scale_bias:
                a = a * _float64(m.scale)
                b = b * _float64(m.scale) + _float64(m.bias)
        elif name == "Scale":
            s = _float64(m.scale)
            a, b = a * s, b * s
            if m.bias_term:
                b = b + _float64(m.bias)
        elif name == "Bias":
            b = b + _float64(m.bias)
    return a, b


def _activation(links, relu):
    """The ReLU slope a folded layer applies (None: no ReLU) from its chain's links."""
    slopes = [m.slope for m in links if m.type_name == "ReLU"]
    return slopes[0] if slopes else (0.0 if relu else None)


def _activate(y, slope):
    """Caffe's ReLU on ``y``: in place under FUSE_RELU, else as a new tensor."""
    if slope is None:
        return y
    if slope == 0.0:
        return y.relu_() if FUSE_RELU else torch.relu(y)
    return F.leaky_relu_(y, slope) if FUSE_RELU else F.leaky_relu(y, slope)


class _Folded:
    """A layer with the BatchNorm / Scale / Bias ``links`` after it folded into its weights
    and bias, refolded whenever a parameter's version changes."""

    def __init__(self, layer, links, relu=False):
        self.layer = layer
        self.links = [m for m in links if m.type_name != "ReLU"]
        self.slope = _activation(links, relu)
        self._key = None

    def _refold(self):
        params = [self.layer.weight] + ([self.layer.bias] if self.layer.bias_term else [])
        key = tuple(weights_key(p) for p in params + [p for m in self.links for p in m.blobs])
        if key == self._key:
            return
        w = self.weight_by_output()
        if self.links:
            o = w.shape[0]
            b = _float64(self.layer.bias) if self.layer.bias_term else \
                torch.zeros(o, dtype=torch.float64, device=w.device)
            a, b = fold_links(self.links, torch.ones(o, dtype=torch.float64, device=w.device),
                              b)
            w = (_float64(w) * a.view((-1,) + (1,) * (w.dim() - 1))).to(w.dtype)
        else:
            # nothing to fold: the float -> double -> float round trip is the identity, and
            # costs a second on CaffeNet's fc6-conv (37.7M weights) at the first forward
            b = self.layer.bias.detach() if self.layer.bias_term else torch.zeros(
                w.shape[0], dtype=w.dtype, device=w.device)
        self._store(w, b.to(w.dtype))
        self._key = key


class FoldedAffine:
    """BatchNorm / Scale layers (and a ReLU) after something other than a foldable layer, as
    one per-channel ``x * a + b`` (then the ReLU in place): two passes over the blob instead of
    one per operation of each layer. The factors follow the parameters' versions; the rounding
    differs from the layers' by a few ulps of the net's dtype."""

    def __init__(self, links):
        self.links = [m for m in links if m.type_name != "ReLU"]
        self.slope = _activation(links, False)
        self._key = None

    def __call__(self, x):
        key = tuple(weights_key(p) for m in self.links for p in m.blobs)
        if key != self._key:
            c, dev = int(x.shape[1]), x.device
            a, b = fold_links(self.links, torch.ones(c, dtype=torch.float64, device=dev),
                              torch.zeros(c, dtype=torch.float64, device=dev))
            view = (1, c) + (1,) * (x.dim() - 2)
            self.a, self.b = a.to(x.dtype).view(view), b.to(x.dtype).view(view)
            self._key = key
        return _activate(torch.addcmul(self.b, x, self.a), self.slope)


class FoldedInnerProduct(_Folded):
    """An InnerProduct (axis 1) with the chain after it folded: ``F.linear`` on the folded
    (N, K) weights, in the layer's blocks of rows (Net.inference_chunk keeps one pass's bits)."""

    def weight_by_output(self):
        w = self.layer.weight.detach()
        return w.t() if self.layer.transpose else w      # (N, K)

    def _store(self, w, b):
        self.weight, self.bias = w.contiguous(), b

    def __call__(self, x):
        self._refold()
        flat = x.reshape(-1, self.layer.K)
        if flat.shape[0] > ROW_BLOCK:
            y = torch.cat([F.linear(flat[i:i + ROW_BLOCK], self.weight, self.bias)
                           for i in range(0, flat.shape[0], ROW_BLOCK)])
        else:
            y = F.linear(flat, self.weight, self.bias)
        return _activate(y, self.slope)


class FoldedConv(_Folded):
    """A convolution with the BatchNorm / Scale / Bias layers after it folded into its weights
    and a ReLU (or an Eltwise SUM's other operand, then a ReLU) applied on its output, by the
    calls of its device's row (:data:`ROWS`)."""

    def __init__(self, conv, links, row=None, add=False, relu=False):
        super().__init__(conv, links, relu)
        self.row = row or ROWS["cpu"]
        self.conv, self.add = conv, add
        self.channels_last = CHANNELS_LAST and self.row.channels_last
        # oneDNN's post-op takes a ReLU with slope 0 only
        self.post_op = self.row.onednn and self.channels_last and FUSE_RELU and \
            self.slope in (None, 0.0)
        self._packed_for = {}           # (input shape, threads) -> packed weights
        self._refused = set()           # input shapes this torch's fused primitive refuses

    def weight_by_output(self):
        return self.conv.weight.detach()

    def _store(self, w, b):
        conv = self.conv
        self.weight = _channels_last_weight(w) if self.channels_last else w.contiguous()
        self.bias = b
        self._packed_for.clear()
        # one input channel on oneDNN's row: im2col + GEMM beats oneDNN (layers/convolution.py)
        self.one_channel = self.row.onednn and conv.channels // conv.group == 1 and \
            conv.group == 1 and conv.dilation == [1, 1]

    def _packed(self, x):
        """The folded weights in oneDNN's blocked layout for this input shape and thread count,
        reordered once (else at every call: a third of a 3 x 3 convolution at batch 1); one
        packing per thread count (packed for two threads, MobileNet v2 on one took 41 ms, 17)."""
        if not (PACKED_WEIGHTS and ONEDNN_PACKING):
            return self.weight
        key = (tuple(x.shape), torch.get_num_threads())
        packed = self._packed_for.get(key)
        if packed is None:
            if len(self._packed_for) >= 8:
                self._packed_for.clear()
            conv = self.conv
            packed = self._packed_for[key] = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, conv.pad, conv.stride, conv.dilation, conv.group, list(key[0]))
        return packed

    def __call__(self, x, other=None):
        self._refold()
        conv = self.conv
        relu = "relu" if self.slope == 0.0 else None
        if self.post_op and self.add and tuple(x.shape) not in self._refused:
            # relu(conv(x) + other) or conv(x) + other in one oneDNN primitive (post-ops)
            x = channels_last(x)
            try:
                return torch.ops.mkldnn._convolution_pointwise.binary(
                    x, channels_last(other), self._packed(x), self.bias, conv.pad,
                    conv.stride, conv.dilation, conv.group, "add", None, relu, [], None)
            except torch.OutOfMemoryError:
                raise
            except RuntimeError:
                # torch 2.11's oneDNN cannot make this primitive for a 1 x 1 map ("could not
                # create a memory"): that shape takes the public calls below from now on
                self._refused.add(tuple(x.shape))
        if self.one_channel:
            y = one_channel_conv2d(x, self.weight, self.bias, conv.stride, conv.pad)
        elif self.post_op and not self.add:
            # the ReLU as a oneDNN post-op of the convolution: one pass over the output
            x = channels_last(x)
            return torch.ops.mkldnn._convolution_pointwise(
                x, self._packed(x), self.bias, conv.pad, conv.stride, conv.dilation, conv.group,
                relu or "none", [], "")
        else:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = F.conv2d(x, self.weight, self.bias, conv.stride, conv.pad, conv.dilation,
                         conv.group)
        if self.add:
            y.add_(other)
        return _activate(y, self.slope)


def plan_for(net, keep):
    """The net's cached :class:`Plan` for these kept blobs, on its device's row."""
    # plans hold the flags they were built with: one cache per setting of the flags
    row = row_name(net)
    flags = (FOLD, CHANNELS_LAST, FUSE_RELU, LAYOUT_LAYERS, PACKED_WEIGHTS, AFFINE,
             ONEDNN_POST_OPS, row)
    cache = net.__dict__.setdefault("_fast_plan_sets", {}).setdefault(flags, {})
    net.__dict__["_fast_plans"] = cache
    k = frozenset(keep or ())
    plan = cache.get(k)
    if plan is None:
        if len(cache) > 8:
            cache.clear()
        plan = cache[k] = Plan(net, k, row)
    return plan
