"""LSTM, RNN and LSTMUnit: Caffe's recurrent layers unrolled over their T time steps.

Caffe fixes T when the layer is set up, so the export unrolls the same net our layers compute
(:mod:`caffe_compat.layers.lstm`, :mod:`~caffe_compat.layers.rnn`): the input transform for
all steps at once (``MatMul`` + ``Add``), then per step ``h_conted = cont_t * h_{t-1}``, the
recurrent ``MatMul``, the sum in Caffe's bottom order, and the unit (LSTM: gates ``i, f, o, g``
laid out in that order, ``f`` 0 where ``cont_t == 0``, ``c = f c_prev + i g``, ``h = o
tanh(c)``; RNN: ``h = tanh(.)``, ``o = tanh(W_ho h + b_o)``). ONNX's own ``LSTM`` / ``RNN``
operators cannot restart a sequence in the middle (Caffe's ``cont``), hence the unrolled form.

Streams (Caffe's N, axis 1 of ``x``, ``cont`` and the exposed states) stay free, as the batch
axis of other nets; T is the deploy file's. Initial state: the exposed ``h_0`` (``c_0``) with
``expose_hidden``, else zeros: the state of a freshly loaded net (or one after ``reset()``);
the state Caffe carries from one forward to the next does not cross into the exported file.
"""
import numpy as np

from ...rules.fields import declare
from ..fields import DEBUG_INFO, fillers
from ..registry import register_converter

declare("onnx", ("LSTM", "RNN"), "RecurrentParameter", {"num_output", "expose_hidden"},
        no_effect={**fillers("RecurrentParameter"), "debug_info": DEBUG_INFO})

F32 = np.float32


def _recurrent_axes(m):
    """x, cont and the exposed states keep the streams on axis 1; x_static on axis 0."""
    axes = {0: 1, 1: 1}
    first = 3 if m.static else 2
    for k in range(m.num_states if m.expose else 0):
        axes[first + k] = 1
    return axes


def _project(ctx, x, weight, bias, hint):
    """``x W^T (+ b)`` over the last axis of ``x``."""
    w = weight.detach().cpu().numpy().astype(F32)
    y = ctx.op("MatMul", [x, ctx.const(np.ascontiguousarray(w.T), f"{hint}_t")])
    if bias is not None:
        y = ctx.op("Add", [y, ctx.blob(bias, hint.replace("W", "b"))])
    return y


def lstm_unit_nodes(ctx, c_prev, gate, cont, hidden):
    """``(c, h)`` of one LSTM step: ``gate`` (..., 4H), ``cont`` broadcastable to (..., 1)."""
    i, f, o, g = ctx.op("Split", [gate, ctx.ints([hidden] * 4, "gate_split")],
                        outputs=["i_in", "f_in", "o_in", "g_in"], axis=-1)
    i, o, g = ctx.op("Sigmoid", [i]), ctx.op("Sigmoid", [o]), ctx.op("Tanh", [g])
    zero = ctx.scalar(0.0, hint="zero")
    f = ctx.op("Where", [ctx.op("Equal", [cont, zero]), zero,
                         ctx.op("Mul", [cont, ctx.op("Sigmoid", [f])])])
    c = ctx.op("Add", [ctx.op("Mul", [f, c_prev]), ctx.op("Mul", [i, g])])
    h = ctx.op("Mul", [o, ctx.op("Tanh", [c])])
    return c, h


def _unrolled(ctx, step):
    """Shared frame of LSTM and RNN: inputs reshaped, per-step slices, outputs stacked."""
    m = ctx.module
    T, H = m.T, m.hidden
    x = ctx.op("Reshape", [ctx.bottoms[0], ctx.ints([T, 0, m.input_dim], "steps")])
    cont = ctx.op("Unsqueeze", [ctx.bottoms[1], ctx.ints([2], "axis2")])         # (T, N, 1)
    static = None
    if m.static:
        static = ctx.op("Reshape", [ctx.bottoms[2], ctx.ints([0, m.static_dim], "static")])
    if m.expose:
        first = 3 if m.static else 2
        states = list(ctx.bottoms[first:first + m.num_states])
    else:
        n = ctx.op("Slice", [ctx.op("Shape", [ctx.bottoms[1]]), ctx.ints([1], "one"),
                             ctx.ints([2], "two")])
        size = ctx.op("Concat", [ctx.ints([1], "one"), n, ctx.ints([H], "hidden")], axis=0)
        zeros = ctx.op("ConstantOfShape", [size],
                       value=ctx.g.onnx.numpy_helper.from_array(np.zeros(1, F32)))
        states = [zeros] * m.num_states
    # every value keeps the time axis (one step: size 1), so states are (1, N, H) as the
    # exposed bottoms and tops
    pre, static = step.prepare(ctx, m, x, static)
    outputs = []
    for t in range(T):
        index = ctx.ints([t], "t")
        cont_t = ctx.op("Gather", [cont, index], axis=0)                      # (1, N, 1)
        pre_t = ctx.op("Gather", [pre, index], axis=0)
        out, states = step.step(ctx, m, pre_t, cont_t, static, states)
        outputs.append(out)
    seq = outputs[0] if T == 1 else ctx.op("Concat", outputs, axis=0)
    if not m.expose:
        return seq
    return [seq] + list(states)


class _LSTMStep:
    """``prepare``: (input transform of all steps, static term); ``step``: one step's output
    and states."""

    @staticmethod
    def prepare(ctx, m, x, static):
        pre = _project(ctx, x, m.W_xc, m.b_c, "W_xc")
        return pre, None if static is None else _project(ctx, static, m.W_xc_static, None,
                                                         "W_xc_static")

    @staticmethod
    def step(ctx, m, pre_t, cont_t, static, states):
        h, c = states
        gate = ctx.op("Add", [_project(ctx, ctx.op("Mul", [h, cont_t]), m.W_hc, None, "W_hc"),
                              pre_t])
        if static is not None:
            gate = ctx.op("Add", [gate, static])
        c, h = lstm_unit_nodes(ctx, c, gate, cont_t, m.hidden)
        return h, (h, c)


class _RNNStep:
    @staticmethod
    def prepare(ctx, m, x, static):
        pre = _project(ctx, x, m.W_xh, m.b_h, "W_xh")
        return pre, None if static is None else _project(ctx, static, m.W_xh_static, None,
                                                         "W_xh_static")

    @staticmethod
    def step(ctx, m, pre_t, cont_t, static, states):
        (h,) = states
        s = ctx.op("Add", [_project(ctx, ctx.op("Mul", [h, cont_t]), m.W_hh, None, "W_hh"),
                           pre_t])
        if static is not None:
            s = ctx.op("Add", [s, static])
        h = ctx.op("Tanh", [s])
        o = ctx.op("Tanh", [_project(ctx, h, m.W_ho, m.b_o, "W_ho")])
        return o, (h,)


@register_converter("LSTM", batch_axes=_recurrent_axes)
def lstm(ctx):
    return _unrolled(ctx, _LSTMStep)


@register_converter("RNN", batch_axes=_recurrent_axes)
def rnn(ctx):
    return _unrolled(ctx, _RNNStep)


@register_converter("LSTMUnit", batch_axes=lambda m: {0: 1, 1: 1, 2: 1})
def lstm_unit(ctx):
    c_prev, gate, cont = ctx.bottoms
    hidden = ctx.bottom_shapes[0][-1]
    cont = ctx.op("Unsqueeze", [cont, ctx.ints([2], "axis2")])                # (1, N, 1)
    return list(lstm_unit_nodes(ctx, c_prev, gate, cont, hidden))
