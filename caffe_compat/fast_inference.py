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

Only rounding changes: the folded weights are rounded once to float32 and the sums are added
in oneDNN's order. The tests bound the difference from the layer-by-layer forward (relative
to each output's scale) on ResNet-50, MobileNet v2, SqueezeNet 1.1 and the res10 SSD.

When it is used (:func:`applies`): under ``torch.no_grad()`` / ``inference_mode()``, on the CPU
in float32, with :data:`ENABLED` (environment variable ``CAFFE_COMPAT_FAST_INFERENCE=0``
turns it off) and the net's ``fast_inference`` attribute true, and never when
``caffe_compat.blas_order.INFERENCE`` asks for Caffe's exact summation order in inference:
the bit-exact claims hold on that path, which runs layer by layer. Training never uses it.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from . import blas_order
from .layers.base import weights_key

ENABLED = os.environ.get("CAFFE_COMPAT_FAST_INFERENCE", "1") != "0"
# the single steps, for measuring what each buys (benchmarks/bench_zoo.py --steps)
FOLD = True            # fold BatchNorm / Scale into the convolution
CHANNELS_LAST = True   # run the folded convolutions in channels-last layout
FUSE_RELU = True       # apply a following ReLU in place on the convolution's output

# oneDNN's fused convolution (ReLU / sum post-ops); without it (torch built without oneDNN)
# the folded convolution runs as F.conv2d with the ReLU after it, and Eltwise stays apart
ONEDNN_POST_OPS = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, "_convolution_pointwise")


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
        sp = module.param.scale_param
        if sp.axis in (1, -3) and sp.num_axes == 1 and len(module.bottom_shapes[0]) == 4:
            return "scale"
    if t == "ReLU" and module.slope == 0.0:
        return "relu"
    return None


def _conv_ok(module, node):
    return (node.type == "Convolution" and module.n == 2 and module.axis == 1
            and len(node.bottoms) == 1 and len(node.tops) == 1
            and len(module.bottom_shapes[0]) == 4)


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
            if not _conv_ok(module, node) or any(weights):
                i += 1
                continue
            chain, blob, j = [], node.tops[0], i + 1
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
        from .proto import caffe_pb2
        if em.param.eltwise_param.operation != caffe_pb2.EltwiseParameter.SUM or \
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

    def _params(self):
        out = [self.conv.weight] + ([self.conv.bias] if self.conv.bias_term else [])
        for m in self.links:
            out.extend(m.blobs)
        return out

    def _fold(self):
        conv = self.conv
        w = conv.weight.detach().double()
        o = w.shape[0]
        b = conv.bias.detach().double() if conv.bias_term else torch.zeros(o, dtype=w.dtype)
        a = torch.ones(o, dtype=w.dtype)
        for m in self.links:
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
        w = (w * a.view(-1, 1, 1, 1)).float()
        fmt = torch.channels_last if CHANNELS_LAST else torch.contiguous_format
        self.weight = w.contiguous(memory_format=fmt)
        self.bias = b.float()
        # one input channel: im2col + GEMM beats oneDNN (see layers/convolution.py)
        self.slow = conv.channels // conv.group == 1 and conv.group == 1 \
            and conv.dilation == [1, 1]

    def __call__(self, x, other=None):
        key = tuple(weights_key(p) for p in self._params())
        if key != self._key:
            self._fold()
            self._key = key
        conv = self.conv
        if self.add:
            # relu(conv(x) + other) or conv(x) + other in one oneDNN primitive (post-ops)
            x = x.contiguous(memory_format=torch.channels_last)
            other = other.contiguous(memory_format=torch.channels_last)
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, other, self.weight, self.bias, conv.pad, conv.stride, conv.dilation,
                conv.group, "add", None, "relu" if self.relu else None, [], None)
        if self.slow:
            y = torch.ops.aten._slow_conv2d_forward(x.contiguous(), self.weight.contiguous(),
                                                    conv.kernel, self.bias, conv.stride,
                                                    conv.pad)
        elif CHANNELS_LAST and FUSE_RELU and ONEDNN_POST_OPS:
            # the ReLU as a oneDNN post-op of the convolution: one pass over the output
            x = x.contiguous(memory_format=torch.channels_last)
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, conv.pad, conv.stride, conv.dilation, conv.group,
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
    cache = net.__dict__.setdefault("_fast_plans", {})
    k = frozenset(keep or ())
    plan = cache.get(k)
    if plan is None:
        if len(cache) > 8:
            cache.clear()
        plan = cache[k] = Plan(net, k)
    return plan
