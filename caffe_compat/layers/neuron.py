"""Caffe's element-wise layers whose top is a function of the bottom alone (NeuronLayer: one
bottom, one top of its shape, in place allowed): Sigmoid, TanH, AbsVal, BNLL and ReLU6
(:mod:`caffe_compat.rules.neuron`) and OpenCV 4 dnn's Mish, without parameters; ReLU, ELU,
Swish, Threshold, Clip, Exp, Log and Power, each with its rule module in
:mod:`caffe_compat.rules`. Each class says its formula and its backward."""
import torch
import torch.nn.functional as F

from ..rules.clip import FIELDS as CLIP_FIELDS, clip_rule
from ..rules.elu import FIELDS as ELU_FIELDS, elu_rule
from ..rules.exp import FIELDS as EXP_FIELDS, exp_rule
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.log import FIELDS as LOG_FIELDS, log_rule
from ..rules.neuron import BNLL_THRESHOLD, RELU6_BOUNDS
from ..rules.power import FIELDS as POWER_FIELDS, power_rule
from ..rules.relu import FIELDS as RELU_FIELDS, relu_slope
from ..rules.swish import FIELDS as SWISH_FIELDS, swish_rule
from ..rules.threshold import FIELDS as THRESHOLD_FIELDS, threshold_rule
from ._neuron import (FormulaNeuronLayer, NeuronLayer, NoBackwardLayer, caffe_sigmoid, f32,
                      scaled_shifted)
from .registry import register_layer

declare("torch", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("torch", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)
declare("torch", "ReLU", "ReLUParameter", RELU_FIELDS, no_effect=ENGINE_FIELD)
declare("torch", "ELU", "ELUParameter", ELU_FIELDS)
declare("torch", "Swish", "SwishParameter", SWISH_FIELDS)
declare("torch", "Threshold", "ThresholdParameter", THRESHOLD_FIELDS)
declare("torch", "Clip", "ClipParameter", CLIP_FIELDS)
declare("torch", "Exp", "ExpParameter", EXP_FIELDS)
declare("torch", "Log", "LogParameter", LOG_FIELDS)
declare("torch", "Power", "PowerParameter", POWER_FIELDS)

LOW, HIGH = RELU6_BOUNDS


@register_layer("Sigmoid")
class Sigmoid(FormulaNeuronLayer):
    """Sigmoid as Caffe computes it: ``0.5 * tanh(0.5 x) + 0.5`` (in double, stored as float);
    backward ``dy * y * (1 - y)`` from the stored output."""

    _fwd = staticmethod(caffe_sigmoid)

    def _bwd(self, x, y, dy):
        return dy * y * (1 - y)


@register_layer("TanH")
class TanH(FormulaNeuronLayer):
    """``tanh(x)``; backward ``dy * (1 - y^2)`` (what torch's tanh backward computes)."""

    def forward(self, x):
        return torch.tanh(x)

    def _bwd(self, x, y, dy):
        return dy * (1 - y * y)


@register_layer("AbsVal")
class AbsVal(NeuronLayer):
    """``|x|``; backward ``dy * sign(x)`` with ``sign(0) = 0`` (torch's abs backward)."""

    def forward(self, x):
        return torch.abs(x)


def _bnll_fwd(x):
    d = x.double()
    pos = d + torch.log(1.0 + torch.exp(-d.clamp_min(0)))
    neg = torch.log(1.0 + torch.exp(d.clamp_max(0)))
    return torch.where(d > 0, pos, neg).to(x.dtype)


def _bnll_bwd(x, y, dy):
    e = torch.exp(torch.clamp_max(x, BNLL_THRESHOLD))
    return dy * (e.double() / (e.double() + 1.0)).to(x.dtype)


@register_layer("BNLL")
class BNLL(FormulaNeuronLayer):
    """BNLL (binomial normal log likelihood, i.e. softplus) in Caffe's two-branch form:
    ``x > 0 ? x + log(1 + exp(-x)) : log(1 + exp(x))`` (double precision, stored as float).

    Backward: ``dy * e / (e + 1)`` with ``e = exp(min(x, 50))`` (Caffe's kBNLL_THRESHOLD).
    """

    _fwd, _bwd = staticmethod(_bnll_fwd), staticmethod(_bnll_bwd)


@register_layer("ReLU6")
class ReLU6(NeuronLayer):
    """``min(max(x, 0), 6)`` (MobileNet v2 ports; OpenCV 4 dnn's ReLU6Layer with its default
    bounds, which a Caffe prototxt cannot change). Backward: autograd."""

    def forward(self, x):
        return torch.clamp(x, LOW, HIGH)

    def forward_inplace(self, x):
        return x.clamp_(LOW, HIGH)


@register_layer("Mish")
class Mish(NeuronLayer):
    """``x * tanh(softplus(x))`` (YOLOv4 ports; OpenCV 4 dnn's MishLayer). Backward: autograd."""

    def forward(self, x):
        return F.mish(x)


@register_layer("ReLU")
class ReLU(FormulaNeuronLayer):
    """``max(x, 0) + negative_slope * min(x, 0)`` (Caffe's ReLULayer); Caffe's backward
    ``dy * ((x > 0) + negative_slope * (x <= 0))``, autograd's unless run in place."""

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.slope = relu_slope(param)
        self.reads_signs = self.slope >= 0.0        # y > 0 exactly where x > 0

    def _bwd(self, x, y, dy):
        return dy * ((x > 0).to(dy.dtype) + self.slope * (x <= 0).to(dy.dtype))

    def forward(self, x):
        return torch.relu(x) if self.slope == 0.0 else F.leaky_relu(x, self.slope)

    # Caffe's Forward_cpu / Backward_cpu as explicit calls (see Layer.explicit_forward): the
    # forward above, and the backward autograd derives for it (threshold_backward on the
    # output for ReLU, leaky_relu_backward on the input otherwise), without the graph.
    def explicit_forward(self, x):
        y = self.forward(x)
        return (y,), (x, y)

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        x, y = saved
        if not bottom_need[0]:
            return [None], []
        if self.slope == 0.0:
            return [torch.ops.aten.threshold_backward(top_diffs[0], y, 0)], []
        return [torch.ops.aten.leaky_relu_backward(top_diffs[0], x, self.slope, False)], []

    def forward_inplace(self, x):
        return torch.relu_(x) if self.slope == 0.0 else F.leaky_relu_(x, self.slope)


@register_layer("ELU")
class ELU(FormulaNeuronLayer):
    """ELU: ``max(x, 0) + alpha * (exp(min(x, 0)) - 1)`` (exp minus one, not expm1).

    Caffe's backward uses the output: ``dy * (x > 0 ? 1 : alpha + y)``, so at ``x == 0`` the
    gradient is ``alpha`` rather than 1.
    """

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.alpha = elu_rule(param).alpha

    def _fwd(self, x):
        return torch.clamp_min(x, 0) + self.alpha * (torch.exp(torch.clamp_max(x, 0)) - 1)

    def _bwd(self, x, y, dy):
        return dy * torch.where(x > 0, torch.ones_like(y), self.alpha + y)


@register_layer("Swish")
class Swish(FormulaNeuronLayer):
    """Swish: ``y = x * sigmoid(beta * x)`` (Caffe's sigmoid, as :class:`Sigmoid`).

    Backward is Caffe's ``dy * (beta * y + s * (1 - beta * y))`` with ``s = sigmoid(beta * x)``.
    """

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.beta = swish_rule(param).beta

    def _fwd(self, x):
        return x * caffe_sigmoid(x * self.beta)

    def _bwd(self, x, y, dy):
        s = caffe_sigmoid(x * self.beta)
        by = self.beta * y
        return dy * (by + s * (1 - by))

    def in_place_backward(self, x, data, dy):      # Caffe keeps the sigmoid of x
        return self._bwd(x, data, dy)


@register_layer("Threshold")
class Threshold(NoBackwardLayer, NeuronLayer):
    """Threshold: ``1 if x > threshold else 0`` (strictly greater: a value equal to the
    threshold gives 0). Caffe implements no backward for it, so the top carries no gradient."""

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.threshold = threshold_rule(param).threshold

    def forward(self, x):
        return (x.detach() > self.threshold).to(x.dtype)


@register_layer("Clip")
class Clip(FormulaNeuronLayer):
    """Clip: ``max(min, min(x, max))`` with Caffe's std::min/std::max semantics, so a NaN input
    becomes ``min`` (torch.clamp would keep NaN). Backward passes ``dy`` where
    ``min <= x <= max`` (both bounds included) and 0 elsewhere. Both bounds are required;
    ``min > max`` is rejected here (Caffe would silently output ``min`` everywhere)."""

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = clip_rule(param)
        self.min, self.max = rule.min, rule.max

    def _fwd(self, x):
        upper = torch.where(x > self.max, torch.full_like(x, self.max), x)   # std::min(x, max)
        return torch.where(upper > self.min, upper, torch.full_like(x, self.min))  # std::max

    def _bwd(self, x, y, dy):
        return dy * ((x >= self.min) & (x <= self.max)).to(dy.dtype)


@register_layer("Exp")
class Exp(FormulaNeuronLayer):
    """Exp: ``y = base ^ (shift + scale * x)``, ``base: -1`` (the default) meaning e.

    Computed as Caffe does: ``outer * exp(inner * x)`` with ``inner = ln(base) * scale`` and
    ``outer = base ^ shift`` (``exp(shift)`` for base e, 1 when shift is 0); backward
    ``dy * y * inner``. ``base`` must be -1 or positive.
    """

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = exp_rule(param)
        self.inner, self.outer = rule.inner, rule.outer

    def _fwd(self, x):
        y = torch.exp(x if self.inner == 1.0 else x * self.inner)
        return y if self.outer == 1.0 else y * self.outer

    def _bwd(self, x, y, dy):
        d = y * dy
        return d if self.inner == 1.0 else d * self.inner


@register_layer("Log")
class Log(FormulaNeuronLayer):
    """Log: ``y = log_base(shift + scale * x)``, ``base: -1`` (the default) meaning e.

    Computed as ``ln(shift + scale x) / ln(base)``; backward ``dy * (scale / ln(base)) /
    (shift + scale x)``. ``base`` must be -1 or positive and not 1.
    """

    factor_first = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = log_rule(param)
        self.base_scale, self.backward_scale = rule.base_scale, rule.backward_scale
        self.scale, self.shift = rule.scale, rule.shift

    def _fwd(self, x):
        y = torch.log(scaled_shifted(x, self.scale, self.shift))
        return y if self.base_scale == 1.0 else y * self.base_scale

    def _bwd(self, x, y, dy):
        d = torch.reciprocal(scaled_shifted(x, self.scale, self.shift))
        if self.backward_scale != 1.0:
            d = d * self.backward_scale
        return dy * d


@register_layer("Power")
class Power(FormulaNeuronLayer):
    """Power: ``y = (shift + scale * x) ^ power`` with Caffe's special cases.

    Forward: when ``power * scale == 0`` the input is ignored and every output is
    ``1 if power == 0 else shift ^ power`` (so ``power: 0`` gives 1 even where the base is 0).
    Backward is Caffe's, not the true derivative:

    - ``power * scale == 0``: gradient 0;  ``power == 1``: ``scale * dy``;
    - ``power == 2``: ``dy * 2 scale (shift + scale x)``;
    - ``shift == 0``: ``dy * power * y / x`` -- NaN at ``x == 0`` (e.g. ``power: 0.5``), where
      the true derivative would be inf or 0;
    - otherwise ``dy * power * scale * y / (shift + scale x)``.
    """

    factor_first = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = power_rule(param)
        self.power, self.scale, self.shift = rule.power, rule.scale, rule.shift
        self.diff_scale = rule.diff_scale

    def _fwd(self, x):
        if self.diff_scale == 0.0:
            return torch.full_like(x, self.rule.constant)
        t = scaled_shifted(x, self.scale, self.shift)
        return t if self.power == 1.0 else torch.pow(t, self.power)

    def _bwd(self, x, y, dy):
        if self.diff_scale == 0.0:
            return torch.zeros_like(dy)
        if self.power == 1.0:
            return dy * self.diff_scale
        if self.power == 2.0:
            d = x * f32(self.diff_scale * self.scale)
            if self.shift != 0.0:
                d = d + f32(self.diff_scale * self.shift)
        elif self.shift == 0.0:
            d = (y / x) * self.power
        else:
            d = y / scaled_shifted(x, self.scale, self.shift)
            if self.diff_scale != 1.0:
                d = d * self.diff_scale
        return dy * d
