"""Caffe's PoolingLayer rules (pooling_layer.cpp, with the ``round_mode`` of later BVLC
releases and the ``ceil_mode`` of OpenCV's fork), read by every engine.

Parameters and defaults: ``pool`` MAX (AVE, STOCHASTIC), ``kernel_size`` or both ``kernel_h``
and ``kernel_w`` (none with ``global_pooling``, where the kernel is the bottom's plane), ``pad``
0 or ``pad_h`` + ``pad_w``, ``stride`` 1 or ``stride_h`` + ``stride_w``, rounding up
(``round_mode: CEIL``; ``FLOOR`` or ``ceil_mode: false`` round down). Refusals, as Caffe's
CHECKs: a kernel with global pooling, a partial ``_h`` / ``_w`` form, non-positive kernel or
stride, global pooling with padding or a stride, padding for STOCHASTIC, padding not smaller
than the kernel, a second (mask) top on anything but MAX, a bottom of other than 4 axes, an empty
output. Output size along an axis: ``ceil((in + 2 pad - k) / stride) + 1`` (``floor``), one
less when ``pad > 0`` and the last window would start at or beyond ``in + pad``.

Windows (:meth:`PoolingRule.windows`): window ``i`` starts at ``i stride - pad``; MAX reads it
clipped to the input (a window with no input position gives ``-FLT_MAX``, Caffe's initial
value); AVE divides its sum by its size clipped to ``[-pad, in + pad)``.
"""
from __future__ import annotations

import functools
import numpy as np

from .record import frozen
from .refusal import refuse

MAX, AVE, STOCHASTIC = 0, 1, 2          # PoolingParameter.PoolMethod
CEIL, FLOOR = 0, 1                      # PoolingParameter.RoundMode
_SECTION = "pooling_param"

# the PoolingParameter fields this rule reads (every engine that reads it honours them)
FIELDS = frozenset({"pool", "pad", "pad_h", "pad_w", "kernel_size", "kernel_h", "kernel_w",
                    "stride", "stride_h", "stride_w", "global_pooling", "round_mode",
                    "ceil_mode"})


def pooled_size(length, k, s, p, ceil):
    """Window positions along an axis of ``length``: ``ceil((length + 2p - k) / s) + 1``
    (``floor`` without ``ceil``), one less when ``p > 0`` and the last window would start at
    or beyond ``length + p`` (PoolingLayer::Reshape)."""
    span = length + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if p > 0 and (out - 1) * s >= length + p:
        out -= 1
    return out


def window_sizes(length, k, s, p, out):
    """AVE's divisor along an axis: each of the ``out`` windows (window ``i`` starting at
    ``i s - p``) clipped to ``[-p, length + p)``, padded positions counted (Forward_cpu's
    ``pool_size``)."""
    return [min(i * s - p + k, length + p) - (i * s - p) for i in range(out)]


def torch_agrees(length, k, s, p, ceil):
    """Whether torch's pooling (``padding=p``, ``ceil_mode=ceil``) has Caffe's windows along an
    axis: its padding at most half the window, and its output size, ``(length + 2p - k [+ s -
    1 with ceil]) // s + 1`` less one in ceil mode where the last window would start at or
    beyond ``length + p``, :func:`pooled_size`."""
    out = (length + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= length + p:
        out -= 1
    return p <= k // 2 and out == pooled_size(length, k, s, p, ceil)


class PoolWindows:
    """The windows of one input plane: ``kernel`` and ``out`` (h, w); ``pads`` (left, right,
    top, bottom) that make every window a whole block of the padded plane (negative: rows or
    columns no window reaches); ``divisor`` AVE's divisor per output and ``empty`` the outputs
    whose window holds no input position (both computed when first asked for: a MAX
    pooling's converter asks only :meth:`any_empty`)."""

    def __init__(self, kernel, out, pads, starts, plane, sizes):
        self.kernel, self.out, self.pads = kernel, out, pads
        self._starts, self._plane, self._sizes = starts, plane, sizes

    def _clipped(self, axis, limit):
        """Each window's length along ``axis`` clipped to ``[.., limit)``, from its start."""
        s = self._starts[axis]
        return np.minimum(s + self.kernel[axis], limit) - np.maximum(s, 0)

    def _empty_along(self, axis):
        return self._clipped(axis, self._plane[axis]) <= 0

    def any_empty(self):
        """Whether some output's window holds no input position."""
        return bool(self._empty_along(0).any() or self._empty_along(1).any())

    @functools.cached_property
    def divisor(self):
        return np.outer(*self._sizes).astype(np.float64)

    @functools.cached_property
    def empty(self):
        return self._empty_along(0)[:, None] | self._empty_along(1)[None, :]


@frozen
class PoolingRule:
    """One Pooling layer as Caffe sets it up; ``kernel`` None is global pooling."""
    layer: object
    method: int
    kernel: tuple | None
    pad: tuple
    stride: tuple
    ceil: bool
    tops: int

    @property
    def global_pooling(self):
        return self.kernel is None

    def kernel_for(self, h, w):
        return (h, w) if self.kernel is None else self.kernel

    def check_bottom(self, shape):
        """Caffe's Reshape: the bottom has 4 axes (num, channels, height, width)."""
        if len(shape) != 4:
            refuse(self.layer, "input must have 4 axes (num, channels, height, width), got "
                   f"{tuple(shape)}")

    def output_size(self, h, w):
        """``(oh, ow)`` for an ``h`` x ``w`` plane; an empty output is refused."""
        kh, kw = self.kernel_for(h, w)
        oh = pooled_size(h, kh, self.stride[0], self.pad[0], self.ceil)
        ow = pooled_size(w, kw, self.stride[1], self.pad[1], self.ceil)
        if oh <= 0 or ow <= 0:
            refuse(self.layer, f"output would be empty for a {h}x{w} input")
        return oh, ow

    def top_shape(self, shape):
        self.check_bottom(shape)
        n, c, h, w = (int(d) for d in shape)
        return (n, c) + self.output_size(h, w)

    def for_bottoms(self, bottom_shapes):
        """This record, after Reshape's refusals for ``bottom_shapes`` (:meth:`top_shape` of
        each, as :func:`pooling_rule` given them makes): PoolingLayer's LayerSetUp reads no
        bottom shape (a global window is the plane's, taken per shape), so a caller that
        applies the rule to many shapes keeps the record."""
        for shape in bottom_shapes:
            self.top_shape(shape)
        return self

    def windows(self, h, w):
        """The :class:`PoolWindows` of an ``h`` x ``w`` plane."""
        kh, kw = self.kernel_for(h, w)
        oh, ow = self.output_size(h, w)
        (sh, sw), (ph, pw) = self.stride, self.pad
        pads = (pw, (ow - 1) * sw + kw - w - pw, ph, (oh - 1) * sh + kh - h - ph)
        starts = (np.arange(oh) * sh - ph, np.arange(ow) * sw - pw)
        sizes = (window_sizes(h, kh, sh, ph, oh), window_sizes(w, kw, sw, pw, ow))
        return PoolWindows((kh, kw), (oh, ow), pads, starts, (h, w), sizes)


def _pair(layer, param, what, default):
    """``WHAT`` for both axes, or ``WHAT_h`` and ``WHAT_w`` (both, and not with ``WHAT``)."""
    has_h, has_w = param.HasField(f"{what}_h"), param.HasField(f"{what}_w")
    if has_h or has_w:
        if not (has_h and has_w) or param.HasField(what):
            refuse(layer, f"give either {what} or both {what}_h and {what}_w",
                   f"{_SECTION}.{what}_{'w' if has_h else 'h'}")
        return int(getattr(param, f"{what}_h")), int(getattr(param, f"{what}_w"))
    value = int(getattr(param, what)) if param.HasField(what) else default
    return value, value


def pooling_rule(layer, bottom_shapes=None):
    """The :class:`PoolingRule` of ``layer`` (a LayerParameter), refusing what Caffe's
    LayerSetUp refuses (and, given ``bottom_shapes``, what its Reshape refuses)."""
    pp = layer.pooling_param
    method = int(pp.pool)
    tops = len(layer.top)
    if tops == 2 and method != MAX:
        refuse(layer, "only MAX pooling has a second (mask) top", f"{_SECTION}.pool")
    has_k = pp.HasField("kernel_size") or pp.HasField("kernel_h") or pp.HasField("kernel_w")
    if pp.global_pooling:
        if has_k:
            refuse(layer, "with global_pooling the kernel size cannot be specified",
                   f"{_SECTION}.global_pooling")
        kernel = None
    elif pp.HasField("kernel_size"):
        if pp.HasField("kernel_h") or pp.HasField("kernel_w"):
            refuse(layer, "give either kernel_size or kernel_h/kernel_w",
                   f"{_SECTION}.kernel_size")
        kernel = (int(pp.kernel_size),) * 2
    elif pp.HasField("kernel_h") and pp.HasField("kernel_w"):
        kernel = (int(pp.kernel_h), int(pp.kernel_w))
    else:
        refuse(layer, "kernel_size, or both kernel_h and kernel_w, are required",
               f"{_SECTION}.kernel_size")
    if kernel is not None and min(kernel) <= 0:
        refuse(layer, f"kernel dimensions must be positive, got {kernel}",
               f"{_SECTION}.kernel_size")
    pad = _pair(layer, pp, "pad", 0)
    stride = _pair(layer, pp, "stride", 1)
    if min(stride) <= 0:
        refuse(layer, f"stride must be positive, got {stride}", f"{_SECTION}.stride")
    if kernel is None and (any(pad) or stride != (1, 1)):
        refuse(layer, "with global_pooling, pad must be 0 and stride 1", f"{_SECTION}.pad")
    if any(pad):
        if method not in (AVE, MAX):
            refuse(layer, "padding is implemented only for AVE and MAX pooling",
                   f"{_SECTION}.pad")
        if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
            refuse(layer, f"pad {pad} must be smaller than the kernel {kernel}",
                   f"{_SECTION}.pad")
    if pp.HasField("ceil_mode"):
        # OpenCV fork's bool (BVLC PR 3057); BVLC master says the same with round_mode
        if pp.HasField("round_mode") and (pp.round_mode == CEIL) != pp.ceil_mode:
            refuse(layer, f"ceil_mode: {str(bool(pp.ceil_mode)).lower()} contradicts "
                   f"round_mode: {'CEIL' if pp.round_mode == CEIL else 'FLOOR'}; give one of "
                   "them", f"{_SECTION}.ceil_mode")
        ceil = bool(pp.ceil_mode)
    else:
        ceil = pp.round_mode == CEIL
    rule = PoolingRule(layer, method, kernel, pad, stride, ceil, tops)
    for shape in bottom_shapes or ():
        rule.top_shape(shape)
    return rule


def label_fields(layer):
    """``(pool, kernel_size, stride, pad)`` as given, unchecked (the ``_h`` / ``_w`` forms are
    not read): what pycaffe's drawing labels a layer with."""
    p = layer.pooling_param
    return int(p.pool), int(p.kernel_size), int(p.stride), int(p.pad)
