"""Element-wise layers as ONNX nodes (the rules from :mod:`caffe_compat.rules`).

With no parameter blobs: ReLU (``negative_slope``: ``max(0, x) + slope min(0, x)``, ONNX's
LeakyRelu), Sigmoid, TanH, AbsVal, Dropout (Caffe scales at training time, so its TEST forward
is the identity; with ``scale_train: false``, OpenCV's fork, it multiplies by ``1 -
dropout_ratio``; in TRAIN it drops values at random, the torch path's) and Split (each top is
the bottom).

With parameters or Caffe's own form: ELU (ONNX's Elu), BNLL (Caffe's stable two-branch
softplus, ``max(x, 0) + log(1 + exp(-|x|))``), Exp (``outer exp(inner x)`` with Caffe's float
constants), Log (``base_scale ln(shift + scale x)``), Threshold (``x > t`` as 1 or 0), Clip
(ONNX's Clip between the rule's bounds), ReLU6 (Clip 0..6), Swish (``x sigmoid(beta x)``,
``beta`` default 1) and Mish (``x tanh(softplus(x))``, OpenCV 4's MishLayer).

Power: Caffe's PowerLayer, ``(shift + scale x) ^ power``, each step written only when it
changes the value (``scale`` 1, ``shift`` 0, ``power`` 1 are skipped, as Caffe's forward skips
them); where ``power * scale`` is 0 the input is not read: the rule's constant, expanded to the
input's shape.

PReLU: ONNX's PRelu with the slopes (the caffemodel's blob) broadcast over axis 1, one per
channel, or one value (``channel_shared``). PRelu computes ``x`` for ``x > 0`` and ``a x``
otherwise, the values of Caffe's ``max(x, 0) + a min(x, 0)``."""
import numpy as np

from ...rules import clip as clip_rules, elu as elu_rules, exp as exp_rules, log as log_rules
from ...rules import power as power_rules, swish as swish_rules, threshold as threshold_rules
from ...rules.dropout import FIELDS as DROPOUT_FIELDS, dropout_rule
from ...rules.neuron import RELU6_BOUNDS
from ...rules.prelu import FIELDS as PRELU_FIELDS, FILLERS as PRELU_FILLERS, prelu_rule
from ...rules.relu import FIELDS as RELU_FIELDS, relu_slope
from ._common import (ENGINE_FIELD, F32, FLOAT, Unsupported, blob_count, declare,
                      elementwise, param_blob, register, same_shapes, train_phase)

declare("lite", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("lite", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)
declare("lite", "ReLU", "ReLUParameter", RELU_FIELDS, no_effect=ENGINE_FIELD)
declare("lite", "Dropout", "DropoutParameter", DROPOUT_FIELDS)
for _type, _rules in (("ELU", elu_rules), ("Exp", exp_rules), ("Log", log_rules),
                      ("Threshold", threshold_rules), ("Clip", clip_rules),
                      ("Swish", swish_rules), ("Power", power_rules)):
    declare("lite", _type, f"{_type}Parameter", _rules.FIELDS)
# slopes come from the caffemodel only (a missing blob, which the filler would fill, goes to
# the torch path)
declare("lite", "PReLU", "PReLUParameter", PRELU_FIELDS, refuses=PRELU_FILLERS)


def _scalar(g, value):
    return g.const(np.array(value, F32))


def _scaled(g, name, factor):
    """``name`` times ``factor``, the product written only where ``factor`` is not 1."""
    return name if factor == 1.0 else g.op("Mul", [name, _scalar(g, factor)])


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
    return _scaled(g, g.op("Exp", [_scaled(g, g.name(x), rule.inner)]), rule.outer)


@elementwise("Log")
def log(g, lp, x, blobs):
    rule = log_rules.log_rule(lp)
    name = _scaled(g, g.name(x), rule.scale)
    if rule.shift != 0.0:
        # x - (-shift), the same rounding as x + shift: OpenCV 5's reader takes Exp, Add,
        # Log for its Softplus (log(1 + exp(x))) whatever the added constant is
        name = g.op("Sub", [name, _scalar(g, -rule.shift)])
    return _scaled(g, g.op("Log", [name]), rule.base_scale)


@elementwise("Power")
def power(g, lp, x, blobs):
    rule = power_rules.power_rule(lp)
    if rule.constant is not None:
        # the constant at the input's shape, read from the input (no length written: the
        # same node for every batch size)
        return g.op("Expand", [_scalar(g, rule.constant), g.op("Shape", [x])])
    name = _scaled(g, g.name(x), rule.scale)
    if rule.shift != 0.0:
        name = g.op("Add", [name, _scalar(g, rule.shift)])
    if rule.power != 1.0:
        name = g.op("Pow", [name, _scalar(g, rule.power)])
    return x if name == x.name else name


@elementwise("Threshold")
def threshold(g, lp, x, blobs):
    above = g.op("Greater", [x, _scalar(g, threshold_rules.threshold_rule(lp).threshold)])
    return g.op("Cast", [above], {"to": FLOAT})


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
    return g.op("Mul", [x, g.op("Sigmoid", [_scaled(g, g.name(x), beta)])])


@elementwise("Mish")
def mish(g, lp, x, blobs):
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])])


def _prelu_lengths_free(lp, shapes, rule=None):
    """The top is the bottom's shape (:func:`prelu_rule`'s ``rule``, made here where not
    given, checks it)."""
    if rule is None:
        rule = prelu_rule(lp, shapes)
    return [rule.top_shape(shapes[0])], None


@elementwise("PReLU", lengths_free=_prelu_lengths_free, rule=prelu_rule)
def prelu(g, lp, x, blobs):
    rule = prelu_rule(lp, [x.shape])
    blob_count(lp, blobs, 1)
    slopes = param_blob(lp, blobs, 0, rule.slope_shape())
    if not rule.channel_shared:
        slopes = slopes.reshape((rule.channels,) + (1,) * (len(x.shape) - 2))
    else:
        slopes = slopes.reshape((1,))
    return g.op("PRelu", [x, g.constant(slopes)])


@elementwise("ReLU", lengths_free=same_shapes)
def relu(g, lp, x, blobs):
    slope = relu_slope(lp)
    return g.op("Relu", [x]) if slope == 0.0 else g.op("LeakyRelu", [x], {"alpha": slope})


def _unary(op):
    def convert(g, lp, x, blobs):
        return g.op(op, [x])
    convert.__doc__ = f"Caffe's {op}: ONNX's {op}, element by element."
    return convert


elementwise("Sigmoid", lengths_free=same_shapes)(_unary("Sigmoid"))
elementwise("TanH", lengths_free=same_shapes)(_unary("Tanh"))
elementwise("AbsVal", lengths_free=same_shapes)(_unary("Abs"))


@register("Dropout", lengths_free=same_shapes)
def dropout(g, lp, bottoms, blobs):
    if len(bottoms) != 1:
        raise Unsupported(f"layer '{lp.name}': Dropout of {len(bottoms)} bottom(s)")
    x, = bottoms
    rule = dropout_rule(lp)
    if train_phase(lp) and rule.ratio != 0.0:
        raise Unsupported(f"layer '{lp.name}': Dropout drops values at random in TRAIN (a "
                          "TEST-phase net computes it)")
    factor = rule.test_scale()
    if factor is None:
        return [x]
    scale = np.array(factor, F32)
    if x.const is not None:
        return [g.constant(x.const * scale)]
    return [type(x)(g.op("Mul", [x, g.const(scale)]), x.shape)]


@register("Split", lengths_free=same_shapes)
def split(g, lp, bottoms, blobs):
    x, = bottoms
    return [x] * len(lp.top)


@register("Silence")
def silence(g, lp, bottoms, blobs):
    """Caffe's SilenceLayer has no top (cv2.dnn returns the blob it silences, which its
    bottom already names)."""
    return []
