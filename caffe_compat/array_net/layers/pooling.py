"""Pooling of a 4-axis blob (MAX, AVE, global), Caffe's PoolingLayer geometry: output size
``ceil((in + 2p - k) / s) + 1`` (``floor`` with ``round_mode: FLOOR`` or OpenCV's fork's
``ceil_mode: false``), one less when the last window would start at or beyond ``in + p``.
MAX is Caffe's loop in C (``kernels/_pool_kernel.c``: the window clipped to the input, the
first maximum wins). AVE sums the clipped window row by row, left to right, from zero, and
divides by the window clipped to ``[-p, in + p)``, as Caffe's Forward_cpu. STOCHASTIC and the
mask top are the torch engine's. MAX's backward adds each top diff at its maximum's position,
outputs in order (Caffe's loop over the mask, ``_pool_kernel.max_pool2d_backward``); AVE's
adds each top diff divided by its window's size over the clipped window, in Caffe's order of
the additions into each bottom element (windows in raster order, from zero)."""
import numpy as np

from ...parallel.threads import array_kernel_threads
from ...rules import pooling as pool_rule
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.pooling import pooling_rule
from ..registry import Unsupported, register
from .base import BottomDiffLayer, need

try:
    from ...kernels import _pool_kernel
except ImportError:  # pragma: no cover - the extension is optional
    _pool_kernel = None

MAX, AVE = pool_rule.MAX, pool_rule.AVE


# STOCHASTIC pooling goes to the torch engine
declare("array", "Pooling", "PoolingParameter", pool_rule.FIELDS - {"pool"}, refuses={"pool"},
        no_effect=ENGINE_FIELD)


@register("Pooling")
class Pooling(BottomDiffLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) == 1 and len(bottom_shapes[0]) == 4,
             "Pooling of one 4-axis bottom to one top")
        rule = pooling_rule(param, bottom_shapes)
        need(rule.method in (MAX, AVE), "STOCHASTIC pooling")
        need(rule.method != MAX or _pool_kernel is not None, "the compiled pooling kernel")
        self.rule, self.method = rule, rule.method
        self.pad, self.stride = rule.pad, rule.stride
        self._mask = None           # MAX: the flat index of each maximum, from the last forward
        self.top_shapes(bottom_shapes)

    def _geometry(self, h, w):
        """``(kh, kw, oh, ow)``: the window and the output size of an ``h`` x ``w`` plane."""
        return self.rule.kernel_for(h, w) + self.rule.output_size(h, w)

    def top_shapes(self, bottom_shapes):
        n, c, h, w = bottom_shapes[0]
        _, _, oh, ow = self._geometry(h, w)
        return [(n, c, oh, ow)]

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        kh, kw, oh, ow = self._geometry(x.shape[2], x.shape[3])
        (sh, sw), (ph, pw) = self.stride, self.pad
        if self.method == MAX:
            mask = self._mask
            if mask is None or mask.shape != y.shape:
                mask = self._mask = np.empty(y.shape, np.int64)
            _pool_kernel.max_pool2d(x, y, mask, kh, kw, sh, sw, ph, pw,
                                    array_kernel_threads(y.size * kh * kw))
            return
        self._average(x, y, kh, kw, oh, ow)

    def _divisor(self, h, w, kh, kw, oh, ow):
        """AVE's divisor per output (the rule's :func:`window_sizes` along each axis)."""
        (sh, sw), (ph, pw) = self.stride, self.pad
        return np.outer(pool_rule.window_sizes(h, kh, sh, ph, oh),
                        pool_rule.window_sizes(w, kw, sw, pw, ow)).astype(np.float32)

    def _average(self, x, y, kh, kw, oh, ow):
        """Each window's in-bounds values added in Caffe's order over a zero-padded copy (the
        zeros it adds leave every sum as it was), then divided by the clipped window size."""
        (sh, sw), (ph, pw) = self.stride, self.pad
        n, c, h, w = x.shape
        hp = max(h + ph, (oh - 1) * sh + kh - ph)
        wp = max(w + pw, (ow - 1) * sw + kw - pw)
        if ph or pw or hp > h or wp > w:
            xp = np.zeros((n, c, hp + ph, wp + pw), np.float32)
            xp[:, :, ph:ph + h, pw:pw + w] = x
        else:
            xp = x
        y[...] = 0
        for a in range(kh):
            for b in range(kw):
                y += xp[:, :, a:a + (oh - 1) * sh + 1:sh, b:b + (ow - 1) * sw + 1:sw]
        y /= self._divisor(h, w, kh, kw, oh, ow)

    def can_backward(self):
        return self.method == AVE or self._mask is not None

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        if self.method == AVE:
            self._average_backward(top_diffs[0], dx)
            return
        mask, dy = self._mask, top_diffs[0]
        if mask.shape != dy.shape:
            raise Unsupported("MAX pooling backward without its forward")
        _pool_kernel.max_pool2d_backward(np.ascontiguousarray(dy), mask, dx,
                                         array_kernel_threads(dx.size))

    def _average_backward(self, dy, dx):
        """Caffe's AVE Backward_cpu: ``dy / pool_size`` (the window clipped to ``[-p, in +
        p)``) added into each in-bounds bottom element of the window. A bottom element gets its
        windows' shares in raster order of the windows: the kernel offsets from the last down."""
        (sh, sw), (ph, pw) = self.stride, self.pad
        n, c, h, w = dx.shape
        kh, kw, oh, ow = self._geometry(h, w)
        share = dy / self._divisor(h, w, kh, kw, oh, ow)
        hp = max(h + ph, (oh - 1) * sh + kh - ph)
        wp = max(w + pw, (ow - 1) * sw + kw - pw)
        grad = np.zeros((n, c, hp + ph, wp + pw), np.float32)
        for a in reversed(range(kh)):
            for b in reversed(range(kw)):
                grad[:, :, a:a + (oh - 1) * sh + 1:sh, b:b + (ow - 1) * sw + 1:sw] += share
        np.copyto(dx, grad[:, :, ph:ph + h, pw:pw + w])
