"""Element-wise layers with parameters or Caffe's own form, as ONNX nodes (the rules from
:mod:`caffe_compat.rules`): ELU (ONNX's Elu), BNLL (Caffe's stable two-branch softplus,
``max(x, 0) + log(1 + exp(-|x|))``), Exp (``outer exp(inner x)`` with Caffe's float
constants), Log (``base_scale ln(shift + scale x)``), Threshold (``x > t`` as 1 or 0),
Clip (ONNX's Clip between the rule's bounds), ReLU6 (Clip 0..6), Swish (``x sigmoid(beta
x)``, ``beta`` default 1) and Mish (``x tanh(softplus(x))``, OpenCV 4's MishLayer)."""
import numpy as np

from ...rules import clip as clip_rules, elu as elu_rules, exp as exp_rules, log as log_rules
from ...rules import swish as swish_rules, threshold as threshold_rules
from ...rules.neuron import RELU6_BOUNDS
from ._common import F32, declare, elementwise

for _type, _rules in (("ELU", elu_rules), ("Exp", exp_rules), ("Log", log_rules),
                      ("Threshold", threshold_rules), ("Clip", clip_rules),
                      ("Swish", swish_rules)):
    declare("lite", _type, f"{_type}Parameter", _rules.FIELDS)


def _scalar(g, value):
    return g.const(np.array(value, F32))


@elementwise("ELU")
def elu(g, lp, x, blobs):
    return g.op("Elu", [x], {"alpha": float(F32(elu_rules.elu_rule(lp).alpha))})


@elementwise("BNLL")
def bnll(g, lp, x, blobs):
    neg_abs = g.op("Neg", [g.op("Abs", [x])])
    tail = g.op("Log", [g.op("Add", [g.op("Exp", [neg_abs]), _scalar(g, 1.0)])])
    return g.op("Add", [g.op("Relu", [x]), tail])


@elementwise("Exp")
def exp(g, lp, x, blobs):
    rule = exp_rules.exp_rule(lp)
    name = g.name(x)
    if rule.inner != 1.0:
        name = g.op("Mul", [name, _scalar(g, rule.inner)])
    name = g.op("Exp", [name])
    if rule.outer != 1.0:
        name = g.op("Mul", [name, _scalar(g, rule.outer)])
    return name


@elementwise("Log")
def log(g, lp, x, blobs):
    rule = log_rules.log_rule(lp)
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
    return name


@elementwise("Threshold")
def threshold(g, lp, x, blobs):
    above = g.op("Greater", [x, _scalar(g, threshold_rules.threshold_rule(lp).threshold)])
    return g.op("Cast", [above], {"to": 1})          # 1: FLOAT


def _clip(g, x, lo, hi):
    return g.op("Clip", [x, _scalar(g, lo), _scalar(g, hi)])


@elementwise("Clip")
def clip(g, lp, x, blobs):
    rule = clip_rules.clip_rule(lp)
    return _clip(g, x, rule.min, rule.max)


@elementwise("ReLU6")
def relu6(g, lp, x, blobs):
    return _clip(g, x, *RELU6_BOUNDS)


@elementwise("Swish")
def swish(g, lp, x, blobs):
    beta = float(F32(swish_rules.swish_rule(lp).beta))
    scaled = g.name(x) if beta == 1.0 else g.op("Mul", [x, _scalar(g, beta)])
    return g.op("Mul", [x, g.op("Sigmoid", [scaled])])


@elementwise("Mish")
def mish(g, lp, x, blobs):
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])])
