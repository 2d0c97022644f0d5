"""Element-wise layers with no parameters blobs: ReLU (``negative_slope``: ``max(0, x) + slope
min(0, x)``, ONNX's LeakyRelu), Sigmoid, TanH, AbsVal, and the layers that pass their input on
unchanged in the TEST phase: Dropout (Caffe scales at training time, so its TEST forward is
the identity) and Split (each top is the bottom)."""
from ...rules.fields import ENGINE_FIELD, declare
from ._common import register

declare("lite", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("lite", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)


@register("ReLU")
def relu(g, lp, bottoms, blobs):
    x, = bottoms
    slope = float(lp.relu_param.negative_slope)
    if slope == 0.0:
        return [type(x)(g.op("Relu", [x]), x.shape)]
    return [type(x)(g.op("LeakyRelu", [x], {"alpha": slope}), x.shape)]


def _unary(op):
    def convert(g, lp, bottoms, blobs):
        x, = bottoms
        return [type(x)(g.op(op, [x]), x.shape)]
    convert.__doc__ = f"Caffe's {op}: ONNX's {op}, element by element."
    return convert


register("Sigmoid")(_unary("Sigmoid"))
register("TanH")(_unary("Tanh"))
register("AbsVal")(_unary("Abs"))


@register("Dropout")
def dropout(g, lp, bottoms, blobs):
    return list(bottoms)


@register("Split")
def split(g, lp, bottoms, blobs):
    x, = bottoms
    return [x] * len(lp.top)


@register("Silence")
def silence(g, lp, bottoms, blobs):
    """Caffe's SilenceLayer has no top (cv2.dnn returns the blob it silences, which its
    bottom already names)."""
    return []
