"""Element-wise layers with parameters or Caffe's own form, as ONNX nodes (the rules from
:mod:`caffe_compat.rules`): ELU (ONNX's Elu), BNLL (Caffe's stable two-branch softplus,
``max(x, 0) + log(1 + exp(-|x|))``), Exp (``outer exp(inner x)`` with Caffe's float
constants), Log (``base_scale ln(shift + scale x)``), Threshold (``x > t`` as 1 or 0),
Clip (ONNX's Clip between the rule's bounds), ReLU6 (Clip 0..6), Swish (``x sigmoid(beta
x)``, ``beta`` default 1) and Mish (``x tanh(softplus(x))``, OpenCV 4's MishLayer)."""
import numpy as np

from ...rules import clip as clip_rule_module
from ...rules import elu as elu_rule_module
from ...rules import exp as exp_rule_module
from ...rules import log as log_rule_module
from ...rules import swish as swish_rule_module
from ...rules import threshold as threshold_rule_module
from ...rules.clip import clip_rule
from ...rules.elu import elu_rule
from ...rules.exp import exp_rule
from ...rules.fields import declare
from ...rules.log import log_rule
from ...rules.neuron import RELU6_BOUNDS
from ...rules.swish import swish_rule
from ...rules.threshold import threshold_rule
from ._common import F32, register

declare("lite", "ELU", "ELUParameter", elu_rule_module.FIELDS)
declare("lite", "Exp", "ExpParameter", exp_rule_module.FIELDS)
declare("lite", "Log", "LogParameter", log_rule_module.FIELDS)
declare("lite", "Threshold", "ThresholdParameter", threshold_rule_module.FIELDS)
declare("lite", "Clip", "ClipParameter", clip_rule_module.FIELDS)
declare("lite", "Swish", "SwishParameter", swish_rule_module.FIELDS)


def _scalar(g, value):
    return g.const(np.array(value, F32))


def _out(x, name):
    return [type(x)(name, x.shape)]


@register("ELU")
def elu(g, lp, bottoms, blobs):
    x, = bottoms
    return _out(x, g.op("Elu", [x], {"alpha": float(F32(elu_rule(lp).alpha))}))


@register("BNLL")
def bnll(g, lp, bottoms, blobs):
    x, = bottoms
    neg_abs = g.op("Neg", [g.op("Abs", [x])])
    tail = g.op("Log", [g.op("Add", [g.op("Exp", [neg_abs]), _scalar(g, 1.0)])])
    return _out(x, g.op("Add", [g.op("Relu", [x]), tail]))


@register("Exp")
def exp(g, lp, bottoms, blobs):
    x, = bottoms
    rule = exp_rule(lp)
    name = g.name(x)
    if rule.inner != 1.0:
        name = g.op("Mul", [name, _scalar(g, rule.inner)])
    name = g.op("Exp", [name])
    if rule.outer != 1.0:
        name = g.op("Mul", [name, _scalar(g, rule.outer)])
    return _out(x, name)


@register("Log")
def log(g, lp, bottoms, blobs):
    x, = bottoms
    rule = log_rule(lp)
    name = g.name(x)
    if rule.scale != 1.0:
        name = g.op("Mul", [name, _scalar(g, rule.scale)])
    if rule.shift != 0.0:
        # x - (-shift), the same rounding as x + shift: OpenCV 5's reader takes Exp, Add,
        # Log for its Softplus (log(1 + exp(x))) whatever the added constant is
        name = g.op("Sub", [name, _scalar(g, -rule.shift)])
    name = g.op("Log", [name])
    if rule.base_scale != 1.0:
        name = g.op("Mul", [name, _scalar(g, rule.base_scale)])
    return _out(x, name)


@register("Threshold")
def threshold(g, lp, bottoms, blobs):
    x, = bottoms
    above = g.op("Greater", [x, _scalar(g, threshold_rule(lp).threshold)])
    return _out(x, g.op("Cast", [above], {"to": 1}))          # 1: FLOAT


def _clip(g, x, lo, hi):
    return _out(x, g.op("Clip", [x, _scalar(g, lo), _scalar(g, hi)]))


@register("Clip")
def clip(g, lp, bottoms, blobs):
    x, = bottoms
    rule = clip_rule(lp)
    return _clip(g, x, rule.min, rule.max)


@register("ReLU6")
def relu6(g, lp, bottoms, blobs):
    x, = bottoms
    return _clip(g, x, *RELU6_BOUNDS)


@register("Swish")
def swish(g, lp, bottoms, blobs):
    x, = bottoms
    beta = float(F32(swish_rule(lp).beta))
    scaled = g.name(x) if beta == 1.0 else g.op("Mul", [x, _scalar(g, beta)])
    return _out(x, g.op("Mul", [x, g.op("Sigmoid", [scaled])]))


@register("Mish")
def mish(g, lp, bottoms, blobs):
    x, = bottoms
    return _out(x, g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])]))
