"""Convolution and Deconvolution with Caffe's BaseConvolutionLayer geometry (and
ConvolutionDepthwise, MobileNet forks' name for Convolution).

Kernel/stride/pad/dilation per spatial axis (or ``_h``/``_w``), ``group``, ``bias_term`` and the
channel ``axis``. Convolution output: ``(in + 2p - (d(k-1)+1)) / s + 1`` in C's integer division
(truncated toward zero: a kernel longer than the padded input by less than a stride gives one
output, reading zeros past the end, as Caffe's im2col does); weights
``(num_output, C/group, *k)``. Deconvolution output: ``s(in-1) + d(k-1)+1 - 2p``; weights
``(C, num_output/group, *k)``, as Caffe stores them.
"""
import torch
import torch.nn.functional as F

from ..kernels import blas_order, dft_conv
from ..kernels.fixed_order import conv_weight_grad, is_pointwise, pointwise_grads, sum_dims
from ..rules.convolution import FIELDS, FILLERS, ND_IM2COL, convolution_rule
from ..rules.fields import ENGINE_FIELD, declare
from .base import Layer, weights_key
from .registry import register_layer

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

# 2-D float32 convolutions on the CPU compute their forward pass in Caffe's own summation order
# (caffe_compat.kernels.blas_order: bit-identical outputs) and back-propagate through the DFT
# or Caffe's two gemms (see CaffeOrderConv2d).
# Without the compiled kernel (or with blas_order.ENABLED = False), inference picks the faster
# of torch's algorithms per layer (same arithmetic up to float32 summation order): im2col +
# GEMM for one input channel per group, where oneDNN is slow, and oneDNN in channels-last
# layout otherwise. False: torch's default.
CPU_INFERENCE_ALGORITHMS = True
_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def one_channel_columns(x, kernel, stride, pad, dilation, out):
    """Caffe's ``im2col`` of every image of ``x`` (N, 1, H, W) for ``out`` = (OH, OW) outputs,
    laid out as ``F.unfold`` lays it out (N, kh*kw, OH*OW): a strided view of the images with
    their zero padding (and zeros past the end, where Caffe's last window reads beyond the
    padded input), copied once. The same values as ``F.unfold`` (a copy, no arithmetic), in a
    seventh of its time on LeNet's first layer."""
    # rows and columns the windows reach, past the padded input's end included
    reach = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, stride, dilation, kernel)]
    extra = [max(0, r - (size + 2 * p)) for r, size, p in zip(reach, x.shape[2:], pad)]
    if pad[0] or pad[1] or extra[0] or extra[1]:
        x = F.pad(x, (pad[1], pad[1] + extra[1], pad[0], pad[0] + extra[0]))
    x = x.contiguous()
    n, _, h, w = x.shape
    view = x.as_strided((n, kernel[0], kernel[1], out[0], out[1]),
                        (h * w, dilation[0] * w, dilation[1], stride[0] * w, stride[1]))
    return view.reshape(n, kernel[0] * kernel[1], out[0] * out[1])


def one_channel_conv2d(x, weight, bias, stride, pad):
    """A convolution of one input channel (``x`` (N, 1, H, W), no dilation) as Caffe's
    ``forward_cpu_gemm`` computes it: :func:`one_channel_columns`, then per image one GEMM with
    the weights (O, kh*kw) and the bias: the product torch's own im2col convolution computes,
    the same bits."""
    if x.dim() != 4 or x.shape[1] != 1:     # (the caller's layer names it: Net's error)
        raise RuntimeError(f"a convolution of one input channel got input shape "
                           f"{tuple(x.shape)}, expected (N, 1, H, W)")
    kernel = tuple(weight.shape[2:])
    out = [(size + 2 * p - k) // s + 1
           for size, p, k, s in zip(x.shape[2:], pad, kernel, stride)]
    cols = one_channel_columns(x, kernel, stride, pad, (1, 1), out)
    w = weight.reshape(weight.shape[0], -1)
    if bias is not None and x.shape[0] == 1:      # one image: one GEMM onto the bias
        y = torch.addmm(bias.view(-1, 1), w, cols[0])
    else:
        y = torch.matmul(w, cols)
        if bias is not None:
            y.add_(bias.view(1, -1, 1))
    return y.view(x.shape[0], weight.shape[0], out[0], out[1])


class CaffeOrderConv2d(torch.autograd.Function):
    """2-D convolution whose forward sums in Caffe's order (:mod:`caffe_compat.kernels.blas_order`),
    the bias added afterwards as Caffe's second gemm does. Backward: through the DFT where that
    is cheaper (:mod:`caffe_compat.kernels.dft_conv`), otherwise, for layers of large work per
    image (``blas_order.gradients_usable``), by Caffe's own two gemms
    (``blas_order.conv2d_grads``: work units that threads take
    in turn, so a thread whose core another process holds does not hold up the rest), else by
    torch's kernels."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pad, dilation, group):
        y = blas_order.conv2d(x, weight, stride, pad, dilation, group)
        if bias is not None:
            y.add_(bias.detach().view(1, -1, 1, 1))
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, pad, dilation, group, bias is not None)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, pad, dilation, group, has_bias = ctx.geometry
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1],
                has_bias and ctx.needs_input_grad[2]]
        gx, gw, gb = caffe_order_backward(x, weight, grad, stride, pad, dilation, group, mask)
        return gx, gw, gb, None, None, None, None


def caffe_order_backward(x, weight, grad, stride, pad, dilation, group, mask):
    """``(input, weight, bias gradient)`` of :class:`CaffeOrderConv2d` for top diff ``grad``,
    each computed where ``mask`` (three flags) asks for it, else None: its autograd backward,
    and the explicit one of :meth:`_ConvBase.explicit_backward`, which gives the same mask and
    so takes the same kernels."""
    # the bias gradient as its own sum: oneDNN's splits the batch among threads for few
    # output channels, so its bits follow the thread count (kernels.fixed_order)
    gb = sum_dims(grad, (0, 2, 3)) if mask[2] else None
    if not mask[0] and mask[1] and group == 1 and weight.shape[1] == 1:
        # a first layer on one channel (the faces): oneDNN's weight gradient for one input
        # channel runs at a tenth of GEMM speed; im2col + batched GEMM instead
        cols = one_channel_columns(x, tuple(weight.shape[2:]), stride, pad, dilation,
                                   tuple(grad.shape[2:]))
        g = grad.reshape(grad.shape[0], grad.shape[1], -1)
        gw = sum_dims(torch.bmm(g, cols.transpose(1, 2)), 0).view_as(weight)
        return None, gw, gb
    if (mask[0] or mask[1]) and is_pointwise(x, weight, stride, pad, dilation, group):
        # one image through a 1x1 layer: Caffe's two gemms as matrix products
        gx, gw = pointwise_grads(grad.contiguous(), x, weight, mask[0], mask[1])
        return gx, gw, gb
    if (mask[0] or mask[1]) and dft_conv.eligible(x, weight, stride, pad, dilation, group,
                                                   mask[0], mask[1]):
        gx, gw = dft_conv.conv2d_backward(x, weight, grad, pad, mask[0], mask[1])
        return gx, gw, gb
    if blas_order.gradients_usable(x, weight, grad, group):
        gx, gw = blas_order.conv2d_grads(x, weight, grad, stride, pad, dilation, group,
                                         mask[0], mask[1])
        return gx, gw, gb
    grad = grad.contiguous()
    gx = gw = None
    if mask[0]:         # oneDNN's input gradient: the same bits at any thread count
        gx = torch.ops.aten.convolution_backward(
            grad, x, weight, None, stride, pad, dilation, False, [0, 0], group,
            [True, False, False])[0]
    if mask[1]:
        gw = conv_weight_grad(grad, x.contiguous(), weight, stride, pad, dilation, group)
    return gx, gw, gb


class FastTrainConv2d(CaffeOrderConv2d):
    """The fast training mode's convolution (``blas_order.EXACT_TRAINING`` False): forward by
    oneDNN in channels-last layout, handed on in torch's default layout; backward as
    :class:`CaffeOrderConv2d`."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pad, dilation, group):
        cl = torch.channels_last
        y = F.conv2d(x.detach().contiguous(memory_format=cl),
                     weight.detach().contiguous(memory_format=cl),
                     None if bias is None else bias.detach(), stride, pad, dilation, group)
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, pad, dilation, group, bias is not None)
        return y.contiguous()


class _ConvBase(Layer):
    blob_names = ("weight", "bias")
    min_bottoms = 1
    min_tops = 1
    transposed = False

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.rule = rule = convolution_rule(param, self.bottom_shapes, self.transposed,
                                            self.type_name, max_spatial=3)
        self.axis, self.n = rule.axis, rule.n
        self.kernel, self.stride = list(rule.kernel), list(rule.stride)
        self.pad, self.dilation = list(rule.pad), list(rule.dilation)
        self.group, self.num_output = rule.group, rule.num_output
        self.channels, self.bias_term = rule.channels, rule.bias_term
        for name, shape in zip(self.blob_names, rule.param_shapes()):
            self.add_blob(name, shape)

    item_wise = property(lambda self: self.axis >= 1)

    def _pad_far(self, x):
        """``x`` (N, C, *spatial) with the zeros Caffe's im2col reads past its end
        (the rule's ``far_padding``) appended, or ``x`` itself where there are none."""
        extra = self.rule.far_padding(x.shape[2:])
        if not any(extra):
            return x
        return F.pad(x, [v for e in reversed(extra) for v in (0, e)])

    def top_shapes(self, bottom_shapes):
        """Caffe's BaseConvolutionLayer::Reshape: the bottoms keep their number of axes and
        their channels (those of the weights), and all have one shape."""
        first = tuple(bottom_shapes[0])
        if len(first) != self.axis + 1 + self.n:
            self.fail(f"bottom shape {first} has {len(first)} axes; the layer was set up for "
                      f"{self.axis + 1 + self.n} ({self.bottom_shapes[0]}): the number of axes "
                      "may not change")
        if first[self.axis] != self.channels:
            self.fail(f"bottom shape {first} has {first[self.axis]} channels (axis "
                      f"{self.axis}); the weights {tuple(self.weight.shape)} take "
                      f"{self.channels} (set up for {self.bottom_shapes[0]})")
        for k, other in enumerate(bottom_shapes[1:], start=1):
            if tuple(other) != first:
                self.fail(f"bottom {k} has shape {tuple(other)}, bottom 0 {first}: all "
                          "bottoms must have one shape")
        return [self.rule.top_shape(s) for s in bottom_shapes]

    def _cpu_inference(self, x, bias):
        """The inference algorithm for a 2-D convolution on the CPU (see module note)."""
        if self.channels // self.group == 1 and self.group == 1 and self.dilation == [1, 1]:
            return one_channel_conv2d(x, self.weight, bias, self.stride, self.pad)
        w = self.weight
        key = weights_key(w)
        if getattr(self, "_cl_key", None) != key:
            self._cl_weight = w.detach().contiguous(memory_format=torch.channels_last)
            self._cl_key = key
        x = x.contiguous(memory_format=torch.channels_last)
        return F.conv2d(x, self._cl_weight, bias, self.stride, self.pad, self.dilation,
                        self.group)

    def _conv(self, x):
        lead = x.shape[:self.axis]
        x = self._pad_far(x.reshape((-1,) + tuple(x.shape[self.axis:])))
        bias = self.bias if self.bias_term else None
        fn = None
        if not self.transposed and self.n == 2 and x.shape[0] > 0:
            if blas_order.usable(x, self.weight, *([bias] if bias is not None else [])):
                fn = CaffeOrderConv2d
            elif blas_order.fast_training_active(x, self.weight):
                # the fast training mode: one input channel keeps the exact kernel (faster there)
                fn = CaffeOrderConv2d if (self.channels // self.group == 1
                                          and blas_order.available()) else FastTrainConv2d
        if fn is not None:
            y = fn.apply(x, self.weight, bias, list(self.stride), list(self.pad),
                         list(self.dilation), self.group)
        elif (CPU_INFERENCE_ALGORITHMS and not self.transposed and self.n == 2
                and x.device.type == "cpu" and not torch.is_grad_enabled()
                and x.dtype == torch.float32 and not torch.jit.is_tracing()):
            y = self._cpu_inference(x, bias)
            return y.reshape(tuple(lead) + tuple(y.shape[1:])) if len(lead) != 1 else y
        elif self.transposed:
            y = _DECONV[self.n](x, self.weight, bias, self.stride, self.pad, 0, self.group,
                                self.dilation)
        else:
            y = _CONV[self.n](x, self.weight, bias, self.stride, self.pad, self.dilation,
                              self.group)
        return y.reshape(tuple(lead) + tuple(y.shape[1:]))

    def forward(self, *bottoms):
        tops = tuple(self._conv(b) for b in bottoms)
        return tops[0] if len(tops) == 1 else tops

    # Caffe's Forward_cpu / Backward_cpu as explicit calls (see Layer.explicit_forward) for
    # the exact path of ``_conv``: CaffeOrderConv2d's forward and backward arithmetic without
    # the graph, for one 4-D bottom with channels on axis 1.
    def explicit_ready(self):
        return (not self.transposed and self.n == 2 and len(self.bottom_shapes) == 1
                and self.axis == 1 and len(self.bottom_shapes[0]) == 4
                and blas_order.usable_in_training(*self.blobs))

    def explicit_forward(self, x):
        if x.dim() != 4:
            self.fail(f"expected a 4-D bottom (N, C, H, W), got shape {tuple(x.shape)}")
        padded = self._pad_far(x)
        weight = self.weight.detach()
        if x.shape[0] == 0 or not blas_order.usable_in_training(padded, weight):
            with torch.no_grad():                     # an empty batch: no products to order
                y = self._conv(x)
        else:
            y = blas_order.conv2d(padded, weight, self.stride, self.pad, self.dilation,
                                  self.group)
            if self.bias_term:
                y.add_(self.bias.detach().view(1, -1, 1, 1))
        return (y,), (padded, weight, tuple(x.shape) if padded is not x else None)

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        x, weight, shape = saved
        # autograd's Function asks for every gradient whose input requires one, whatever the
        # caller then keeps: the same mask here, so that the same kernels run
        mask = [bool(bottom_need[0]), self.weight.requires_grad,
                self.bias_term and self.bias.requires_grad]
        if x.shape[0] == 0 or not any(mask):
            return [torch.zeros(shape or x.shape, dtype=x.dtype) if bottom_need[0] else None], \
                [None] * len(param_need)
        grad = top_diffs[0]
        gx, gw, gb = caffe_order_backward(x, weight, grad, list(self.stride), list(self.pad),
                                          list(self.dilation), self.group, mask)
        if gx is not None and shape is not None:      # F.pad's backward: the unpadded part
            gx = gx[:, :, :shape[2], :shape[3]]
        gw = gw if param_need[0] else None
        diffs = [gw, gb if len(param_need) > 1 and param_need[1] else None]
        return [gx if bottom_need[0] else None], diffs[:len(param_need)]


declare("torch", ("Convolution", "Deconvolution", "ConvolutionDepthwise"),
        "ConvolutionParameter", FIELDS | FILLERS,
        no_effect={**ENGINE_FIELD, **ND_IM2COL})


@register_layer("Convolution")
class Convolution(_ConvBase):
    """Caffe's ConvolutionLayer (cross-correlation, as torch's conv)."""


@register_layer("Deconvolution")
class Deconvolution(_ConvBase):
    """Caffe's DeconvolutionLayer: the backward pass of a convolution, weights (C, N/g, *k)."""

    transposed = True


@register_layer("ConvolutionDepthwise")
class ConvolutionDepthwise(Convolution):
    """The depthwise convolution layer of MobileNet Caffe forks. OpenCV 4's importer maps it to
    Convolution with the same ``convolution_param`` (``group`` as given), and so does this
    module: Caffe's Convolution in every respect, under this type name."""
