"""LRN: local response normalisation, Caffe's two regions (4-axis bottoms, odd ``local_size``).

ACROSS_CHANNELS: ``x / (k + alpha / n * sum of x^2 over n neighbouring channels)^beta``, the
channel window zero-padded at both ends: Caffe sums over a copy of the squares with
``(n-1)/2`` zero channels before and after (its ``padded_square``), so ``n`` may exceed the
channel count (AlexNet-style ``local_size: 5`` on a 3-channel blob), forward and backward.
WITHIN_CHANNEL (Caffe builds it from Power, AVE Pooling and Eltwise layers):
``x / (1 + alpha * avg)^beta`` where ``avg`` is the sum of x^2 over the n x n spatial window
(zero-padded by (n-1)/2) divided by n^2 everywhere, borders included; ``k`` is not used at all.
Both backward passes are the true gradients of these forms, as Caffe's are.

ACROSS_CHANNELS on float32 CPU tensors runs Caffe's own CrossChannelForward_cpu /
CrossChannelBackward_cpu operation for operation (``kernels/_lrn_kernel.c``: the running
channel sum with OpenBLAS's saxpy roundings, ``powf``), so its top and bottom diff are Caffe's
bit for bit (tests/caffe_compat/layers/test_lrn_exact.py); other dtypes and devices use the
formula above.
"""
import torch
import torch.nn.functional as F

from ..net import vjp
from ..proto import caffe_pb2
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.lrn import FIELDS, lrn_rule, within_channel
from .base import Layer
from .registry import register_layer

try:
    from ..kernels import _lrn_kernel
except ImportError:  # pragma: no cover - the extension is optional
    _lrn_kernel = None

L = caffe_pb2.LRNParameter


def _threads():
    return max(1, torch.get_num_threads())


def _across_forward(x, layer):
    """(top, (scale, pow(scale, -beta))) of Caffe's ACROSS_CHANNELS forward (x float32,
    contiguous, 4 axes)."""
    scale, powed, y = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    _lrn_kernel.across_forward(x.detach().numpy(), scale.numpy(), powed.numpy(), y.numpy(),
                               layer.size, layer.alpha_over_size, -layer.beta32, layer.k32,
                               _threads())
    return y, (scale, powed)


def _across_backward(x, y, state, dy, layer):
    scale, powed = state
    dx = torch.empty_like(x)
    _lrn_kernel.across_backward(x.detach().numpy(), y.detach().numpy(), scale.numpy(),
                                powed.numpy(), dy.detach().contiguous().numpy(), dx.numpy(),
                                layer.size, layer.cache_ratio, _threads())
    return dx


class CaffeLRNAcross(torch.autograd.Function):
    """ACROSS_CHANNELS LRN whose forward and backward are Caffe's loops in C."""

    @staticmethod
    def forward(ctx, x, layer):
        x = x.contiguous()
        y, (scale, powed) = _across_forward(x, layer)
        ctx.save_for_backward(x, y, scale, powed)
        ctx.layer = layer
        return y

    @staticmethod
    def backward(ctx, dy):
        x, y, scale, powed = ctx.saved_tensors
        return _across_backward(x, y, (scale, powed), dy, ctx.layer), None


declare("torch", "LRN", "LRNParameter", FIELDS, no_effect=ENGINE_FIELD)


@register_layer("LRN")
class LRN(Layer):
    rule_of = staticmethod(lrn_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.size, self.pre_pad, self.region = rule.size, rule.pre_pad, rule.region
        self.alpha, self.beta, self.k = rule.alpha, rule.beta, rule.k
        # Caffe's float32 constants (the rule's)
        self.beta32, self.k32 = rule.beta32, rule.k32
        self.alpha_over_size, self.cache_ratio = rule.alpha_over_size, rule.cache_ratio

    def _exact(self, x):
        """Whether Caffe's C loops run for ``x`` (ACROSS_CHANNELS, float32 on the CPU; not
        while torch traces or compiles the module, which take the formula)."""
        return (_lrn_kernel is not None and self.region == L.ACROSS_CHANNELS
                and x.dtype == torch.float32 and x.device.type == "cpu" and x.dim() == 4
                and not torch.jit.is_tracing() and not torch.compiler.is_compiling())

    def forward(self, x):
        if self._exact(x):
            if torch.is_grad_enabled() and x.requires_grad:
                return CaffeLRNAcross.apply(x, self)
            return _across_forward(x.contiguous(), self)[0]
        sq = x * x
        if self.region == L.ACROSS_CHANNELS:
            # the zero channels are part of the input (torch's pooling refuses a window wider
            # than its unpadded input), as in Caffe's padded_square
            padded = F.pad(sq, (0, 0, 0, 0, self.pre_pad, self.pre_pad))
            window_mean = F.avg_pool3d(padded.unsqueeze(1), (self.size, 1, 1),
                                       stride=1).squeeze(1)
            scale = self.k + self.alpha * window_mean
        else:
            window_mean = F.avg_pool2d(sq, self.size, stride=1, padding=self.pre_pad,
                                       count_include_pad=True)
            return within_channel(x, window_mean, self.alpha, self.beta, torch.pow)[0]
        return x * scale.pow(-self.beta)

    # Caffe's Forward_cpu / Backward_cpu as explicit calls (see Layer.explicit_forward): the
    # C loops where they run, else the formula's forward with its autograd backward (what the
    # general loop runs for such a blob).
    def explicit_ready(self):
        return True

    def explicit_forward(self, x):
        if self._exact(x):
            x = x.contiguous()
            y, state = _across_forward(x, self)
            return (y,), (x, y, state)
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            y = self.forward(leaf)
        return (y.detach(),), (leaf, y)

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        if not bottom_need[0]:
            return [None], []
        if len(saved) == 3:
            x, y, state = saved
            return [_across_backward(x, y, state, top_diffs[0], self)], []
        leaf, y = saved
        g, = vjp.grad((y,), (leaf,), (top_diffs[0].reshape(y.shape).to(y.dtype),))
        return [g], []
