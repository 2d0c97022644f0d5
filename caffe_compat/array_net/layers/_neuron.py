"""The element-wise ("neuron") array layers' shared part: Caffe's NeuronLayer (one bottom,
one top of its shape, in place allowed). In place, the bottom's data is the top's after the
forward, as in Caffe: a layer whose backward reads the bottom's values declines a backward
then (``backward_from_top`` False) and the torch engine takes it."""
import numpy as np

from .base import ArrayLayer

F32 = np.float32


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
    # whether Caffe's backward formula can be read from the top alone (in place it must)
    backward_from_top = False
    # whether Caffe has a Backward_cpu for the type (Threshold has none)
    has_backward = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.inplace = param.top[0] == param.bottom[0]

    def can_backward(self):
        return self.has_backward and (self.backward_from_top or not self.inplace)

    def trains(self):
        return self.can_backward()

    def allow_force_backward(self, j):
        return self.has_backward

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """``dx = dy * factor(x, y)``, assigned to the bottom diff."""
        dx = bottom_diffs[0]
        if dx is not None:
            np.multiply(top_diffs[0], self.factor(bottoms[0], tops[0]), out=dx)

    def factor(self, x, y):
        """Caffe's Backward_cpu as ``dx / dy`` (float32)."""
        raise NotImplementedError
