"""Element-wise layers with no parameters blobs: ReLU (``negative_slope``: ``max(0, x) + slope
min(0, x)``, ONNX's LeakyRelu), Sigmoid, TanH, AbsVal, Dropout (Caffe scales at training time,
so its TEST forward is the identity; with ``scale_train: false``, OpenCV's fork, it multiplies
by ``1 - dropout_ratio``; in TRAIN it drops values at random, the torch path's) and Split (each
top is the bottom)."""
import numpy as np

from ...rules.dropout import FIELDS as DROPOUT_FIELDS, dropout_rule
from ...rules.relu import FIELDS as RELU_FIELDS, relu_slope
from ._common import (ENGINE_FIELD, F32, Unsupported, declare, elementwise, register,
                      same_shapes, train_phase)

declare("lite", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("lite", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)
declare("lite", "ReLU", "ReLUParameter", RELU_FIELDS, no_effect=ENGINE_FIELD)
declare("lite", "Dropout", "DropoutParameter", DROPOUT_FIELDS)


@elementwise("ReLU", lengths_free=same_shapes)
def relu(g, lp, x, blobs):
    slope = relu_slope(lp)
    if slope == 0.0:
        return g.op("Relu", [x])
    return g.op("LeakyRelu", [x], {"alpha": slope})


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
