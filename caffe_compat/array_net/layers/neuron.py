"""The element-wise ("neuron") array layers: Caffe's NeuronLayer (one bottom, one top of its
shape, in place allowed), each type's Forward_cpu and Backward_cpu element by element in
float32 by its rule (:mod:`caffe_compat.rules`). In place, the bottom's data is the top's after
the forward, as in Caffe: its backward reads both from the blob as Caffe's does (a layer
without a Caffe in-place backward, ``backward_in_place`` False, declines and the torch engine
takes it); Power's and Log's write their factor into the bottom diff first, as Caffe's, which
in place is the top diff."""
import numpy as np

from ...rules import clip, elu, exp, log, power, swish, threshold
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.neuron import BNLL_THRESHOLD, RELU6_BOUNDS, neuron_rule
from ..registry import register
from .base import ArrayLayer

F32 = np.float32

declare("array", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("array", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)
for _type, _rules in (("Clip", clip), ("ELU", elu), ("Exp", exp), ("Log", log),
                      ("Power", power), ("Swish", swish), ("Threshold", threshold)):
    declare("array", _type, f"{_type}Parameter", _rules.FIELDS)


def caffe_sigmoid(t):
    """Caffe's sigmoid of float32 ``t``, ``0.5 tanh(0.5 t) + 0.5`` in double, rounded to
    float32 (SigmoidLayer's Forward_cpu; Swish's too)."""
    d = t.astype(np.float64)
    d *= 0.5
    np.tanh(d, out=d)
    d *= 0.5
    d += 0.5
    return d.astype(F32)


def scaled_shifted(x, out, scale, shift):
    """``shift + scale x`` into ``out`` (float32), each step only where it changes the value,
    as Caffe's PowerLayer and LogLayer take them."""
    np.copyto(out, x)
    if scale != 1:
        out *= scale
    if shift != 0:
        out += shift
    return out


class NeuronArrayLayer(ArrayLayer):
    one_bottom = True
    in_place = True
    # whether the layer has Caffe's backward in place (reading x and y from the blob)
    backward_in_place = True
    # Caffe's Power and Log: the factor written into the bottom diff, then multiplied by the
    # top diff (the same memory in place: the factor squared)
    factor_first = False

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.inplace = param.top[0] == param.bottom[0]

    def can_backward(self):
        return self.backward_in_place or not self.inplace

    def trains(self):
        return self.can_backward()

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """``dx = dy * factor(x, y)``, assigned to the bottom diff."""
        dx = bottom_diffs[0]
        if dx is not None:
            f = self.factor(bottoms[0], tops[0])
            if self.factor_first:
                np.copyto(dx, f)
                f = dx
            np.multiply(top_diffs[0], f, out=dx)

    def factor(self, x, y):
        """Caffe's Backward_cpu as ``dx / dy`` (float32)."""
        raise NotImplementedError


class _Plain(NeuronArrayLayer):
    """Sigmoid, TanH, AbsVal, BNLL and ReLU6 (:mod:`caffe_compat.rules.neuron`); the
    double-precision steps where Caffe's code takes them (Sigmoid's ``0.5 * tanh(0.5 * x) +
    0.5``, BNLL's ``log(1. + ...)``)."""
    rule_of = staticmethod(neuron_rule)


@register("Sigmoid")
class Sigmoid(_Plain):
    def forward(self, bottoms, tops, params):
        np.copyto(tops[0], caffe_sigmoid(bottoms[0]))

    def factor(self, x, y):
        """``y (1 - y)``."""
        return y * (F32(1) - y)


@register("TanH")
class TanH(_Plain):
    def forward(self, bottoms, tops, params):
        np.tanh(bottoms[0], out=tops[0])

    def factor(self, x, y):
        """``1 - y^2``."""
        return F32(1) - y * y


@register("AbsVal")
class AbsVal(_Plain):
    backward_in_place = False

    def forward(self, bottoms, tops, params):
        np.abs(bottoms[0], out=tops[0])

    def factor(self, x, y):
        """Caffe's caffe_cpu_sign: 1, -1, or 0 at 0."""
        return np.sign(x)


@register("BNLL")
class BNLL(_Plain):
    def forward(self, bottoms, tops, params):
        x = bottoms[0].astype(np.float64)
        with np.errstate(over="ignore"):
            tail = np.log(1.0 + np.exp(-np.abs(x)))   # both branches: log(1 + exp(-|x|))
        np.copyto(tops[0], np.maximum(x, 0.0) + tail, casting="same_kind")

    def factor(self, x, y):
        """``e / (e + 1.)`` with ``e = exp(min(x, 50))`` (float, the division in double)."""
        e = np.exp(np.minimum(x, F32(BNLL_THRESHOLD))).astype(np.float64)
        return (e / (e + 1.0)).astype(F32)


@register("ReLU6")
class ReLU6(_Plain):
    backward_in_place = False

    def forward(self, bottoms, tops, params):
        lo, hi = RELU6_BOUNDS
        np.clip(bottoms[0], F32(lo), F32(hi), out=tops[0])

    def factor(self, x, y):
        """``dy`` where ``0 <= x <= 6`` (the bounds included), else 0."""
        lo, hi = RELU6_BOUNDS
        return ((x >= F32(lo)) & (x <= F32(hi))).astype(F32)


@register("Clip")
class Clip(NeuronArrayLayer):
    """Clip (:mod:`caffe_compat.rules.clip`): ``std::max(min, std::min(x, max))`` in float32
    (a NaN input gives ``min``); backward ``dy`` where ``min <= x <= max``, else 0."""

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = clip.clip_rule(param)
        self.lo, self.hi = F32(rule.min), F32(rule.max)

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        upper = np.where(x > self.hi, self.hi, x)           # std::min(x, max)
        np.copyto(tops[0], np.where(upper > self.lo, upper, self.lo))   # std::max(min, .)

    def factor(self, x, y):
        return ((x >= self.lo) & (x <= self.hi)).astype(F32)


@register("ELU")
class ELU(NeuronArrayLayer):
    """ELU (:mod:`caffe_compat.rules.elu`): ``max(x, 0) + alpha (exp(min(x, 0)) - 1)`` in
    float32 (exp minus one, as Caffe); backward ``dy ((x > 0) + (alpha + y) (x <= 0))``."""

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.alpha = F32(elu.elu_rule(param).alpha)

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        low = np.exp(np.minimum(x, F32(0)))
        low -= F32(1)
        low *= self.alpha
        np.maximum(x, F32(0), out=y)
        y += low

    def factor(self, x, y):
        return np.where(x > 0, F32(1), self.alpha + y).astype(F32)


@register("Exp")
class Exp(NeuronArrayLayer):
    """Exp (:mod:`caffe_compat.rules.exp`): ``outer exp(inner x)`` in float32 with Caffe's
    float constants; backward ``dy y inner``."""

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = exp.exp_rule(param)
        self.inner, self.outer = F32(rule.inner), F32(rule.outer)

    def forward(self, bottoms, tops, params):
        y = tops[0]
        with np.errstate(over="ignore"):
            if self.inner == 1:
                np.exp(bottoms[0], out=y)
            else:
                np.multiply(bottoms[0], self.inner, out=y)
                np.exp(y, out=y)
        if self.outer != 1:
            y *= self.outer

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """Caffe's order: ``y * dy``, then times ``inner``."""
        dx = bottom_diffs[0]
        if dx is None:
            return
        np.multiply(tops[0], top_diffs[0], out=dx)
        if self.inner != 1:
            dx *= self.inner


@register("Log")
class Log(NeuronArrayLayer):
    """Log (:mod:`caffe_compat.rules.log`): ``base_scale ln(shift + scale x)`` in float32 with
    Caffe's float constants and steps; backward ``dy backward_num_scale / (shift + scale x)``."""
    factor_first = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = log.log_rule(param)
        self.scale, self.shift = F32(rule.scale), F32(rule.shift)
        self.base_scale, self.backward_scale = F32(rule.base_scale), F32(rule.backward_scale)

    def _inner(self, x, out):
        return scaled_shifted(x, out, self.scale, self.shift)

    def forward(self, bottoms, tops, params):
        y = self._inner(bottoms[0], tops[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(y, out=y)
        if self.base_scale != 1:
            y *= self.base_scale

    def factor(self, x, y):
        with np.errstate(divide="ignore"):
            d = np.reciprocal(self._inner(x, np.empty_like(x)))
        if self.backward_scale != 1:
            d *= self.backward_scale
        return d


@register("Power")
class Power(NeuronArrayLayer):
    """Power (:mod:`caffe_compat.rules.power`): Caffe's PowerLayer steps in float32 (scale,
    shift and power each applied only where it changes the value; the constant output where
    ``power * scale`` is 0) and its Backward_cpu's special forms."""
    factor_first = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = power.power_rule(param)
        self.power, self.scale, self.shift = F32(rule.power), F32(rule.scale), F32(rule.shift)
        self.diff_scale = F32(rule.diff_scale)

    def _base(self, x, out):
        return scaled_shifted(x, out, self.scale, self.shift)

    def forward(self, bottoms, tops, params):
        y = tops[0]
        if self.diff_scale == 0:
            y[...] = F32(self.rule.constant)
            return
        self._base(bottoms[0], y)
        if self.power != 1:
            with np.errstate(all="ignore"):
                np.power(y, self.power, out=y)

    def factor(self, x, y):
        if self.diff_scale == 0 or self.power == 1:
            return np.full_like(x, self.diff_scale)
        with np.errstate(all="ignore"):
            if self.power == 2:
                d = x * F32(self.diff_scale * self.scale)
                if self.shift != 0:
                    d += F32(self.diff_scale * self.shift)
                return d
            if self.shift == 0:
                d = y / x
                d *= self.power
                return d
            d = y / self._base(x, np.empty_like(x))
            if self.diff_scale != 1:
                d *= self.diff_scale
            return d


def _tanh_softplus(x):
    return np.tanh(np.logaddexp(F32(0), x)).astype(F32, copy=False)


@register("Mish")
class Mish(NeuronArrayLayer):
    """Mish: ``x tanh(softplus(x))`` (OpenCV 4's MishLayer; the torch layer's ``F.mish``), in
    float32 with a softplus that does not overflow (``logaddexp(0, x)``); backward ``tanh(sp)
    + x sigmoid(x) (1 - tanh(sp)^2)`` (torch's formula), which reads the bottom (not in
    place)."""
    backward_in_place = False

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        np.multiply(x, _tanh_softplus(x), out=tops[0])

    def factor(self, x, y):
        t = _tanh_softplus(x)
        with np.errstate(over="ignore"):
            sigmoid = F32(1) / (F32(1) + np.exp(-x))
        return t + x * sigmoid * (F32(1) - t * t)


@register("Swish")
class Swish(NeuronArrayLayer):
    """Swish: ``x * sigmoid(beta x)`` (``beta`` default 1) with Caffe's sigmoid, ``0.5 tanh(0.5
    t) + 0.5`` in double rounded to float32, as the torch layer; backward Caffe's ``dy (beta y
    + s (1 - beta y))`` with ``s = sigmoid(beta x)`` kept from the forward (Caffe's
    sigmoid_output_: in place, x is gone)."""

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.beta = F32(swish.swish_rule(param).beta)

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        self.sigmoid = caffe_sigmoid(x * self.beta)
        np.multiply(x, self.sigmoid, out=tops[0])

    def factor(self, x, y):
        by = self.beta * y
        return by + self.sigmoid * (F32(1) - by)


@register("Threshold")
class Threshold(NeuronArrayLayer):
    """Threshold (:mod:`caffe_compat.rules.threshold`): ``1`` where ``x > threshold``, else
    ``0``. Caffe has no Backward_cpu for it (NOT_IMPLEMENTED): no gradient passes through it,
    as in the torch engine: force_backward does not reach its bottom, and where its bottom
    needs a diff (a layer with parameters below it) that diff is 0."""

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.threshold = F32(threshold.threshold_rule(param).threshold)

    def forward(self, bottoms, tops, params):
        np.greater(bottoms[0], self.threshold, out=tops[0], casting="unsafe")

    def allow_force_backward(self, j):
        return False

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """No gradient: the bottom's diff, where one is asked for, is 0."""
        if bottom_diffs[0] is not None:
            bottom_diffs[0][...] = 0
