"""Pooling (MAX, AVE, STOCHASTIC, global) with Caffe's PoolingLayer geometry.

Output size: ``ceil((in + 2p - k) / s) + 1`` (``floor`` with ``round_mode: FLOOR``, or
OpenCV's fork's ``ceil_mode: false``, as OpenCV 4 dnn computes it); when
``p > 0`` and the last window would start at or beyond ``in + p`` the size drops by one. Windows
are clipped to the input: MAX ignores padded positions (a window with no input position gives
``-FLT_MAX``, as Caffe's initial value), AVE divides by the window clipped to ``[-p, in + p)``,
i.e. padded zeros count but the part beyond the padded border does not. The optional second top
of MAX is Caffe's mask: the flat index ``h * W + w`` of each maximum (-1 for an empty window).
STOCHASTIC: in TEST the activation-weighted average ``sum(x^2) / sum(x)`` (Caffe's GPU kernel;
its CPU code has none); in TRAIN one position sampled with probability ``x / sum(x)``.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..proto import caffe_pb2
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.pooling import FIELDS, pooling_rule, torch_agrees
from .base import Layer
from .registry import register_layer

try:
    from ..kernels import _pool_kernel
except ImportError:  # pragma: no cover - the extension is optional
    _pool_kernel = None

P = caffe_pb2.PoolingParameter
FLT_MAX = float(np.finfo(np.float32).max)


class CaffeMaxPool2d(torch.autograd.Function):
    """MAX pooling whose forward is Caffe's loop in C (``_pool_kernel.c``: first maximum wins,
    flat indices), for the geometries where torch's pooling has Caffe's windows; backward by
    torch's kernel from those indices. Same values as torch's forward, in a third of the time
    on a CNN+D batch."""

    @staticmethod
    def forward(ctx, x, kernel, stride, pad, ceil, out):
        x = x.contiguous()
        n, c = x.shape[:2]
        y = torch.empty((n, c) + tuple(out), dtype=x.dtype)
        mask = torch.empty((n, c) + tuple(out), dtype=torch.int64)
        _pool_kernel.max_pool2d(x.detach().numpy(), y.numpy(), mask.numpy(), kernel[0],
                                kernel[1], stride[0], stride[1], pad[0], pad[1],
                                max(1, torch.get_num_threads()))
        ctx.save_for_backward(x, mask)
        ctx.geometry = (kernel, stride, pad, ceil)
        ctx.mark_non_differentiable(mask)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, mask = ctx.saved_tensors
        kernel, stride, pad, ceil = ctx.geometry
        gx = torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(), x, list(kernel), list(stride), list(pad), [1, 1], ceil, mask)
        return gx, None, None, None, None, None


declare("torch", "Pooling", "PoolingParameter", FIELDS, no_effect=ENGINE_FIELD)


@register_layer("Pooling")
class Pooling(Layer):
    item_wise = True
    exact_bottoms = 1
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = pooling_rule(param)
        rule.check_bottom(self.bottom_shapes[0])
        self.rule = rule
        self.method, self.global_pooling = rule.method, rule.global_pooling
        self.kernel, self.pad, self.stride = rule.kernel, rule.pad, rule.stride
        self.ceil = rule.ceil
        self._plans = {}

    # ---------------------------------------------------------------- geometry
    def _plan(self, H, W):
        plan = self._plans.get((H, W))
        if plan is not None:
            return plan
        win = self.rule.windows(H, W)
        (kh, kw), (oh, ow) = win.kernel, win.out
        (sh, sw), (ph, pw) = self.stride, self.pad
        fast = (torch_agrees(H, kh, sh, ph, self.ceil)
                and torch_agrees(W, kw, sw, pw, self.ceil))
        plan = dict(k=(kh, kw), out=(oh, ow), fast=fast, pads=win.pads,
                    divisor=torch.from_numpy(win.divisor), empty=torch.from_numpy(win.empty),
                    any_empty=bool(win.empty.any()))
        self._plans[(H, W)] = plan
        return plan

    def top_shapes(self, bottom_shapes):
        n, c, h, w = bottom_shapes[0]
        oh, ow = self._plan(h, w)["out"]
        return [(n, c, oh, ow)] * len(self.param.top)

    # ---------------------------------------------------------------- forward
    def forward(self, x):
        # int(): the geometry is fixed per input size, also when the module is traced
        plan = self._plan(int(x.shape[2]), int(x.shape[3]))
        if self.method == P.MAX:
            return self._max(x, plan)
        return self._ave(x, plan) if self.method == P.AVE else self._stochastic(x, plan)

    def _max(self, x, plan):
        want_mask = len(self.param.top) == 2
        if (plan["fast"] and not want_mask and _pool_kernel is not None
                and torch.is_grad_enabled() and x.device.type == "cpu"
                and x.dtype == torch.float32 and not torch.jit.is_tracing()):
            return CaffeMaxPool2d.apply(x, tuple(plan["k"]), tuple(self.stride),
                                        tuple(self.pad), self.ceil, tuple(plan["out"]))
        if plan["fast"] and not want_mask:
            return F.max_pool2d(x, plan["k"], self.stride, self.pad, ceil_mode=self.ceil)
        xp = F.pad(x, plan["pads"], value=-math.inf)
        y, idx = F.max_pool2d(xp, plan["k"], self.stride, return_indices=True)
        if plan["any_empty"]:
            y = torch.where(plan["empty"].to(y.device), torch.full_like(y, -FLT_MAX), y)
        if not want_mask:
            return y
        Wp = xp.shape[3]
        W = x.shape[3]
        mask = (idx // Wp - self.pad[0]) * W + (idx % Wp - self.pad[1])
        mask = torch.where(plan["empty"].to(y.device), torch.full_like(mask, -1), mask)
        return y, mask.to(y.dtype)

    def _ave(self, x, plan):
        if plan["fast"]:
            return F.avg_pool2d(x, plan["k"], self.stride, self.pad, ceil_mode=self.ceil,
                                count_include_pad=True)
        xp = F.pad(x, plan["pads"], value=0.0)
        total = F.avg_pool2d(xp, plan["k"], self.stride, divisor_override=1)
        return total / plan["divisor"].to(device=x.device, dtype=x.dtype)

    def _stochastic(self, x, plan):
        xp = F.pad(x, plan["pads"], value=0.0)
        n, c = x.shape[:2]
        oh, ow = plan["out"]
        cols = F.unfold(xp.reshape(n * c, 1, *xp.shape[2:]), plan["k"], stride=self.stride)
        cols = cols.reshape(n, c, -1, oh, ow)
        if self.phase == "TRAIN":
            probs = cols.clamp_min(0).movedim(2, -1).reshape(-1, cols.shape[2])
            pick = torch.multinomial(probs + (probs.sum(1, keepdim=True) == 0), 1)
            return cols.movedim(2, -1).reshape(-1, cols.shape[2]).gather(1, pick).reshape(
                n, c, oh, ow)
        s = cols.sum(2) + np.finfo(np.float32).tiny
        return torch.where(s > 0, (cols * cols).sum(2) / s, torch.zeros_like(s))
