"""LSTMUnit: one LSTM step on ``c_prev`` (1 x N x H), the gate inputs ``x`` (1 x N x 4H) and the
sequence markers ``cont`` (1 x N); tops ``c`` and ``h`` (1 x N x H each).

Caffe's LSTMUnitLayer: the gate inputs are laid out ``[i', f', o', g']`` along the last axis
(H values each) and

    i = sigmoid(i'),  f = cont * sigmoid(f') (0 where cont == 0),  o = sigmoid(o'),
    g = tanh(g'),     c = f * c_prev + i * g,  h = o * tanh(c).

Caffe evaluates ``sigmoid(x) = 1 / (1 + exp(-x))`` and ``tanh(x) = 2 sigmoid(2x) - 1`` in
double and rounds each gate to the blob's type; the products and sums are in that type. Backward
is Caffe's, which is not the gradient of the forward where ``cont`` is neither 0 nor 1: it uses
``f (1 - f)`` for the forget gate (the derivative of ``sigmoid`` only when ``cont == 1``):

    dc~ = dc + dh * o * (1 - tanh(c)^2),   dc_prev = dc~ * f,
    di' = dc~ * g * i (1 - i),   df' = dc~ * c_prev * f (1 - f),
    do' = dh * tanh(c) * o (1 - o),   dg' = dc~ * i (1 - g^2).

Nothing is propagated to ``cont`` (Caffe refuses to, even under ``force_backward``).
"""
import torch

from .base import Layer
from .registry import register_layer
from ..rules.lstm_unit import lstm_unit_top_shapes


def _sigmoid(x):
    """Caffe's ``1 / (1 + exp(-x))`` in double, rounded to ``x``'s type."""
    return (1.0 / (1.0 + torch.exp(-x.double()))).to(x.dtype)


def _tanh(x):
    """Caffe's ``2 sigmoid(2 x) - 1`` in double, rounded to ``x``'s type."""
    return (2.0 / (1.0 + torch.exp(-2.0 * x.double())) - 1.0).to(x.dtype)


def gates(x, cont, hidden):
    """The activated gates ``(i, f, o, g)`` of gate inputs ``x`` (..., 4H) under ``cont`` (...)."""
    i = _sigmoid(x[..., :hidden])
    cont = cont.unsqueeze(-1).to(x.dtype)
    f = torch.where(cont == 0, torch.zeros((), dtype=x.dtype, device=x.device),
                    cont * _sigmoid(x[..., hidden:2 * hidden]))
    o = _sigmoid(x[..., 2 * hidden:3 * hidden])
    g = _tanh(x[..., 3 * hidden:])
    return i, f, o, g


class LSTMUnitFunction(torch.autograd.Function):
    """``(c, h)`` of one LSTM step, with Caffe's LSTMUnit backward (none to ``cont``)."""

    @staticmethod
    def forward(ctx, c_prev, x, cont):
        hidden = c_prev.shape[-1]
        i, f, o, g = gates(x, cont, hidden)
        c = f * c_prev + i * g
        tanh_c = _tanh(c)
        h = o * tanh_c
        ctx.save_for_backward(c_prev, i, f, o, g, tanh_c)
        return c, h

    @staticmethod
    def backward(ctx, dc, dh):
        c_prev, i, f, o, g, tanh_c = ctx.saved_tensors
        if dc is None:
            dc = torch.zeros_like(c_prev)
        if dh is None:
            dh = torch.zeros_like(c_prev)
        c_term = dc + dh * o * (1 - tanh_c * tanh_c)
        dc_prev = c_term * f if ctx.needs_input_grad[0] else None
        dx = None
        if ctx.needs_input_grad[1]:
            dx = torch.cat([c_term * g * i * (1 - i), c_term * c_prev * f * (1 - f),
                            dh * tanh_c * o * (1 - o), c_term * i * (1 - g * g)], dim=-1)
        return dc_prev, dx, None


def lstm_unit(c_prev, x, cont):
    """``(c, h)`` of Caffe's LSTMUnit for ``c_prev`` (..., H), ``x`` (..., 4H), ``cont`` (...)."""
    return LSTMUnitFunction.apply(c_prev, x, cont.detach())


@register_layer("LSTMUnit")
class LSTMUnit(Layer):
    exact_bottoms = 3
    exact_tops = 2
    shapes_at_setup = True

    def allow_force_backward(self, bottom_index):
        return bottom_index != 2

    def top_shapes(self, bottom_shapes):
        return lstm_unit_top_shapes(self.param, bottom_shapes, self.type_name)

    def forward(self, c_prev, x, cont):
        self.top_shapes([c_prev.shape, x.shape, cont.shape])
        return lstm_unit(c_prev, x, cont)
