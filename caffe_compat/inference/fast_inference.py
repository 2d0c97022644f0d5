"""The inference fast path: a net's no-grad CPU forward with Convolution -> BatchNorm -> Scale
-> ReLU chains folded into one convolution, as OpenCV's dnn and other inference engines do.

For a 2-D Convolution (channel axis 1, float32, CPU) whose output is read only by the next
layers of a chain of

- ``BatchNorm`` with global statistics: ``(y - m) / sqrt(v + eps)`` (m, v the stored means
  divided by the scale factor, as the layer computes them),
- ``Scale`` with a learned per-channel multiplier (axis 1, one axis) and optional bias,
- ``ReLU`` with ``negative_slope: 0``,

the BatchNorm and Scale are folded into the convolution's weights and bias (``W' = W * a``,
``b' = (b - m) * a + t`` per output channel), the convolution runs in oneDNN's channels-last
layout, and the ReLU is applied in place on its output. The chain's intermediate blobs are never
formed: a chain is folded only where nothing else reads them (no other consumer, no loss
weight, not asked for). In a Caffe deploy file these layers run in place, so the blobs a user
sees after the forward are the same ones.

Around the folded convolutions:

- the folded weights are reordered once (per input shape) into oneDNN's blocked layout, which
  oneDNN otherwise does at every call (:data:`PACKED_WEIGHTS`);
- BatchNorm -> Scale (-> ReLU) chains after something else than a foldable convolution run as
  one per-channel ``x * a + b`` with the ReLU in place (:class:`FoldedAffine`, :data:`AFFINE`);
- pooling, LRN and concat keep the channels-last layout (:mod:`caffe_compat.inference.fast_layers`,
  :data:`LAYOUT_LAYERS`);
- the plan runs as steps decided once per net and kept blobs (:mod:`caffe_compat.inference.fast_run`,
  :data:`COMPILED_RUN`).

Only rounding changes: the folded weights are rounded once to float32 and the sums are added
in oneDNN's order. The tests bound the difference from the layer-by-layer forward (relative
to each output's scale) on ResNet-50, GoogLeNet, MobileNet v2, SqueezeNet 1.1 and the res10
SSD. Cached weights follow the parameters (:func:`caffe_compat.layers.base.weights_key`):
torch writes, pycaffe numpy views handed out, ``dnn.Net.setParam``.

When it is used (:func:`applies`): under ``torch.no_grad()`` / ``inference_mode()``, on the CPU
in float32, with :data:`ENABLED` (environment variable ``CAFFE_COMPAT_FAST_INFERENCE=0``
turns it off) and the net's ``fast_inference`` attribute true, and never when
``caffe_compat.kernels.blas_order.INFERENCE`` asks for Caffe's exact summation order in inference:
the bit-exact claims hold on that path, which runs layer by layer. Training never uses it.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ..kernels import blas_order
from . import fast_layers, fast_run
from .fast_layers import channels_last
from ..layers.base import weights_key
from ..rules.eltwise import SUM

ENABLED = os.environ.get("CAFFE_COMPAT_FAST_INFERENCE", "1") != "0"
# the single steps, for measuring what each buys (benchmarks/bench_zoo.py --steps)
FOLD = True            # fold BatchNorm / Scale into the convolution
CHANNELS_LAST = True   # run the folded convolutions in channels-last layout
FUSE_RELU = True       # apply a following ReLU in place on the convolution's output
LAYOUT_LAYERS = True   # pooling / LRN / concat in channels-last (caffe_compat.inference.fast_layers)
COMPILED_RUN = True    # run the plan as steps decided once (caffe_compat.inference.fast_run)
PACKED_WEIGHTS = True  # folded weights reordered once into oneDNN's blocked layout
AFFINE = True          # BatchNorm / Scale / ReLU after no convolution: one x * a + b

# oneDNN's fused convolution (ReLU / sum post-ops); without it (torch built without oneDNN)
# the folded convolution runs as F.conv2d with the ReLU after it, and Eltwise stays apart
ONEDNN_POST_OPS = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, "_convolution_pointwise")
# weights reordered ahead of the call (torch builds with oneDNN's weight-reorder op)
ONEDNN_PACKING = ONEDNN_POST_OPS and hasattr(torch.ops.mkldnn, "_reorder_convolution_weight")


def applies(net):
    """Whether ``net``'s forward may take the fast path now."""
    return (ENABLED and FOLD and getattr(net, "fast_inference", True)
            and not torch.is_grad_enabled() and not blas_order.INFERENCE
            and not torch.jit.is_tracing() and net._ref.device.type == "cpu"
            and net._ref.dtype == torch.float32)


def _readers(net):
    readers = {}
    for node, _, _, _ in net._nodes:
        for b in node.bottoms:
            readers.setdefault(b, []).append(node.index)
    return readers


def _foldable(module, node):
    """The kind of link ``module`` can be in a folded chain, or None."""
    t = node.type
    if len(node.bottoms) != 1 or len(node.tops) != 1:
        return None
    if t == "BatchNorm" and module.use_global_stats:
        return "bn"
    if t == "Scale" and len(module.bottom_shapes) == 1:
        rule = module.rule            # one learned value per channel of a 4-axis bottom
        if rule.axis_param in (1, -3) and len(rule.learned) == 1 and \
                len(module.bottom_shapes[0]) == 4:
            return "scale"
    if t == "ReLU" and module.slope == 0.0:
        return "relu"
    return None


def _conv_ok(module, node):
    return (node.type == "Convolution" and module.n == 2 and module.axis == 1
            and len(node.bottoms) == 1 and len(node.tops) == 1
            and len(module.bottom_shapes[0]) == 4
            and not any(module.far_padding(module.bottom_shapes[0][2:])))


class Plan:
    """The folded chains of a net for one set of kept blobs: ``replace`` maps a node index to
    (callable, bottom names, top names) run in its place, ``skip`` holds the indices of the
    layers folded into another."""

    def __init__(self, net, keep=()):
        keep = set(keep or ()) | set(net.graph.outputs)
        readers = _readers(net)
        nodes = net._nodes
        self.replace, self.skip, self.chains = {}, set(), []
        i = 0
        while i < len(nodes):
            node, key, weights, _ = nodes[i]
            module = net.layers[key]
            kind = _foldable(module, node) if FOLD and AFFINE and not any(weights) else None
            if kind in ("bn", "scale") and len(module.bottom_shapes[0]) == 4:
                # BatchNorm / Scale (-> Scale -> ReLU) after no convolution: one x * a + b
                chain, blob, j = self._walk(net, nodes, readers, keep, i + 1, node.tops[0],
                                            [(kind, module)])
                self.replace[node.index] = (FoldedAffine([m for _, m in chain]),
                                            tuple(node.bottoms), (blob,))
                self.chains.append((node.name, [nodes[k][0].name for k in range(i + 1, j)]))
                i = j
                continue
            if not _conv_ok(module, node) or any(weights):
                fn = fast_layers.replacement(module, node) \
                    if CHANNELS_LAST and LAYOUT_LAYERS and not any(weights) else None
                if fn is not None:
                    self.replace[node.index] = (fn, tuple(node.bottoms), tuple(node.tops))
                i += 1
                continue
            chain, blob, j = self._walk(net, nodes, readers, keep, i + 1, node.tops[0], [])
            links = [m for _, m in chain]
            names = [nodes[k][0].name for k in range(i + 1, j)]
            fused_sum = self._sum_after(net, nodes, readers, keep, i, j, blob, chain)
            if fused_sum is not None:
                # conv (+ BN/Scale) -> Eltwise SUM (-> ReLU): one oneDNN call adding the other
                # operand (and the ReLU) to the convolution's output
                e, other, top, relu_node = fused_sum
                self.skip.update({node.index} | {k for k in range(i + 1, j)})
                fc = FoldedConv(module, links, add=True,
                                relu=relu_node is not None)
                self.replace[e.index] = (fc, (node.bottoms[0], other), (top,))
                if relu_node is not None:
                    self.skip.add(relu_node.index)
                self.chains.append((node.name, names + [e.name] + (
                    [relu_node.name] if relu_node is not None else [])))
            elif chain or CHANNELS_LAST:
                self.replace[node.index] = (FoldedConv(module, links), tuple(node.bottoms),
                                            (blob,))
                self.chains.append((node.name, names))
            i = j

    def _walk(self, net, nodes, readers, keep, j, blob, chain):
        """Extend ``chain`` by the BatchNorm / Scale / ReLU layers from ``nodes[j]`` on that
        can be folded into what makes ``blob``: (chain, last blob, index after the chain)."""
        while j < len(nodes):
            nxt, nkey, nweights, _ = nodes[j]
            kind = _foldable(net.layers[nkey], nxt)
            if kind is None or nxt.bottoms[0] != blob or any(nweights):
                break
            if kind == "relu" and chain and chain[-1][0] == "relu":
                break
            if kind != "relu" and any(k == "relu" for k, _ in chain):
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
            self._run = fast_run.compile_run(net, self, keep)
        return self._run

    @staticmethod
    def _sum_after(net, nodes, readers, keep, i, j, blob, chain):
        """(Eltwise node, its other bottom, final top, ReLU node or None) when the chain
        ending at ``nodes[j-1]`` feeds a plain two-input Eltwise SUM that can take it in."""
        if (not FUSE_RELU or not ONEDNN_POST_OPS or any(k == "relu" for k, _ in chain)
                or j >= len(nodes)):
            return None
        if not CHANNELS_LAST or net.layers[nodes[i][1]].channels // \
                net.layers[nodes[i][1]].group == 1:
            return None
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
                    and len(r.tops) == 1 and not any(rweights) and not any(eweights)
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
    out = torch.empty_strided(w.shape, (i * kh * kw, 1, kw * i, i), dtype=w.dtype)
    return out.copy_(w)


def fold_links(links, a, b):
    """``y * a + b`` (float64, per channel) followed by the BatchNorm / Scale ``links``, as one
    per-channel ``y * a' + b'``: (a', b')."""
    for m in links:
        name = m.type_name
        if name == "BatchNorm":
            s = m.scale_factor.detach().double()[0]
            factor = 0.0 if s == 0 else 1.0 / s
            mean = m.mean.detach().double() * factor
            var = m.variance.detach().double() * factor
            inv = 1.0 / torch.sqrt(var + m.eps)
            b = (b - mean) * inv
            a = a * inv
            if m.scale_bias:
                a = a * m.scale.detach().double()
                b = b * m.scale.detach().double() + m.bias.detach().double()
        elif name == "Scale":
            s = m.scale.detach().double()
            a, b = a * s, b * s
            if m.bias_term:
                b = b + m.bias.detach().double()
    return a, b


class FoldedAffine:
    """BatchNorm / Scale layers (and a ReLU) after something other than a foldable
    convolution, as one per-channel ``x * a + b`` (then the ReLU in place): two passes over
    the blob instead of one per operation of each layer. The factors follow the parameters'
    versions; the rounding differs from the layers' by a few float32 ulps."""

    def __init__(self, links):
        self.links = [m for m in links if m.type_name != "ReLU"]
        self.relu = len(self.links) != len(links)
        self._key = None

    def __call__(self, x):
        key = tuple(weights_key(p) for m in self.links for p in m.blobs)
        if key != self._key:
            c = int(x.shape[1])
            a, b = fold_links(self.links, torch.ones(c, dtype=torch.float64),
                              torch.zeros(c, dtype=torch.float64))
            self.a, self.b = a.float().view(1, c, 1, 1), b.float().view(1, c, 1, 1)
            self._key = key
        y = torch.addcmul(self.b, x, self.a)
        return y.relu_() if self.relu else y


class FoldedConv:
    """A convolution with the BatchNorm / Scale layers after it folded into its weights and a
    ReLU applied in place; the folded weights follow the parameters' versions."""

    def __init__(self, conv, links, add=False, relu=False):
        self.conv = conv
        self.links = [m for m in links if m.type_name != "ReLU"]
        has_relu = relu or any(m.type_name == "ReLU" for m in links)
        self.relu = FUSE_RELU and has_relu
        self.unfused_relu = not FUSE_RELU and has_relu
        self.add = add
        self._key = None
        self._packed_for = {}           # (input shape, threads) -> packed weights

    def _params(self):
        out = [self.conv.weight] + ([self.conv.bias] if self.conv.bias_term else [])
        for m in self.links:
            out.extend(m.blobs)
        return out

    def _fold(self):
        conv = self.conv
        if self.links:
            w = conv.weight.detach().double()
            o = w.shape[0]
            b = conv.bias.detach().double() if conv.bias_term else torch.zeros(o, dtype=w.dtype)
            a, b = fold_links(self.links, torch.ones(o, dtype=w.dtype), b)
            w = (w * a.view(-1, 1, 1, 1)).float()
        else:
            # nothing to fold: the float -> double -> float round trip is the identity, and
            # costs a second on CaffeNet's fc6-conv (37.7M weights) at the first forward
            w = conv.weight.detach().float()
            b = conv.bias.detach().float() if conv.bias_term else torch.zeros(
                w.shape[0], dtype=torch.float32)
        self.weight = _channels_last_weight(w) if CHANNELS_LAST else w.contiguous()
        self.bias = b.float()
        # one input channel: im2col + GEMM beats oneDNN (see layers/convolution.py)
        self.slow = conv.channels // conv.group == 1 and conv.group == 1 \
            and conv.dilation == [1, 1]

    def _packed(self, x):
        """The folded weights in oneDNN's blocked layout for this input shape and thread
        count, reordered once (oneDNN otherwise reorders plain weights at every call: a third
        of a 3 x 3 convolution's time at batch 1). Values are unchanged; only their order in
        memory. The layout oneDNN picks depends on the threads too: weights packed for two
        threads ran MobileNet v2 at batch 1 on one thread in 41 ms against 17 ms packed for
        one, so each count the thread policy switches between keeps its own packing."""
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
        key = tuple(weights_key(p) for p in self._params())
        if key != self._key:
            self._fold()
            self._key = key
            self._packed_for.clear()
        conv = self.conv
        if self.add:
            # relu(conv(x) + other) or conv(x) + other in one oneDNN primitive (post-ops)
            x = channels_last(x)
            other = channels_last(other)
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, other, self._packed(x), self.bias, conv.pad, conv.stride, conv.dilation,
                conv.group, "add", None, "relu" if self.relu else None, [], None)
        if self.slow:
            y = torch.ops.aten._slow_conv2d_forward(x.contiguous(), self.weight.contiguous(),
                                                    conv.kernel, self.bias, conv.stride,
                                                    conv.pad)
        elif CHANNELS_LAST and FUSE_RELU and ONEDNN_POST_OPS:
            # the ReLU as a oneDNN post-op of the convolution: one pass over the output
            x = channels_last(x)
            return torch.ops.mkldnn._convolution_pointwise(
                x, self._packed(x), self.bias, conv.pad, conv.stride, conv.dilation, conv.group,
                "relu" if self.relu else "none", [], "")
        else:
            if CHANNELS_LAST:
                x = x.contiguous(memory_format=torch.channels_last)
            y = F.conv2d(x, self.weight, self.bias, conv.stride, conv.pad, conv.dilation,
                         conv.group)
        if self.relu:
            y.relu_()
        elif self.unfused_relu:
            y = torch.relu(y)
        return y


def plan_for(net, keep):
    """The net's cached :class:`Plan` for these kept blobs."""
    # plans hold the flags they were built with: one cache per setting of the flags
    flags = (FOLD, CHANNELS_LAST, FUSE_RELU, LAYOUT_LAYERS, PACKED_WEIGHTS, AFFINE,
             ONEDNN_POST_OPS)
    cache = net.__dict__.setdefault("_fast_plan_sets", {}).setdefault(flags, {})
    net.__dict__["_fast_plans"] = cache
    k = frozenset(keep or ())
    plan = cache.get(k)
    if plan is None:
        if len(cache) > 8:
            cache.clear()
        plan = cache[k] = Plan(net, k)
    return plan
