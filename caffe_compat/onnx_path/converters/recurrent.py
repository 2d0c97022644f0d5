"""LSTM, RNN and LSTMUnit: Caffe's recurrent layers unrolled over their T time steps, as the
torch layers compute them (:mod:`caffe_compat.layers.lstm`, :mod:`~caffe_compat.layers.rnn`;
parameters, shapes, states and blobs from :mod:`caffe_compat.rules.recurrent`): the input
transform for all steps at once (``MatMul`` + ``Add``), then per step ``h_conted = cont_t
h_{t-1}``, the recurrent ``MatMul``, the sum in Caffe's bottom order, and the unit (LSTM: gates
``i, f, o, g`` in that order, ``f`` 0 where ``cont_t == 0``, ``c = f c_prev + i g``, ``h = o
tanh(c)``; RNN: ``h = tanh(.)``, ``o = tanh(W_ho h + b_o)``); ONNX's ``LSTM`` / ``RNN`` cannot
restart a sequence midway (Caffe's ``cont``).

The streams (axis 1 of ``x``, ``cont`` and the exposed states) are never written: an export
keeps them free (``batch_axes``). Initial state: the exposed ``h_0`` (``c_0``) with
``expose_hidden``, else zeros; without it the torch engine carries one forward's last state
into the next, which a graph does not: the torch-free path leaves those nets to it, an export
starts every forward from zeros.
"""
import numpy as np

from ...rules.lstm_unit import lstm_unit_top_shapes
from ...rules.recurrent import BLOBS, FIELDS, FILLERS, NO_EFFECT, recurrent_rule
from ._common import Unsupported, blob_count, declare, param_blob, register

# the weights come from the caffemodel only (a missing blob, which a filler would fill, goes
# to the torch path)
declare("lite", ("LSTM", "RNN"), "RecurrentParameter", FIELDS, refuses=FILLERS, no_effect=NO_EFFECT)


def _project(g, x, weight, bias=None):
    """``x W^T (+ b)`` over the last axis of ``x``."""
    y = g.op("MatMul", [x, g.const(np.ascontiguousarray(weight.T))])
    return y if bias is None else g.op("Add", [y, g.const(bias)])


def lstm_unit_nodes(g, c_prev, gate, cont, hidden):
    """``(c, h)`` of one LSTM step: ``gate`` (..., 4H), ``cont`` broadcasting to (..., 1)."""
    i, f, o, cell = g.op("Split", [gate, g.const([hidden] * 4)], {"axis": -1}, outputs=4)
    i, o, cell = g.op("Sigmoid", [i]), g.op("Sigmoid", [o]), g.op("Tanh", [cell])
    zero = g.const(0.0)
    f = g.op("Where", [g.op("Equal", [cont, zero]), zero,
                       g.op("Mul", [cont, g.op("Sigmoid", [f])])])
    c = g.op("Add", [g.op("Mul", [f, c_prev]), g.op("Mul", [i, cell])])
    return c, g.op("Mul", [o, g.op("Tanh", [c])])


def _lstm_step(g, w, hidden, pre_t, cont_t, static, states):
    h, c = states
    gate = g.op("Add", [_project(g, g.op("Mul", [h, cont_t]), w["W_hc"]), pre_t])
    if static is not None:
        gate = g.op("Add", [gate, static])
    c, h = lstm_unit_nodes(g, c, gate, cont_t, hidden)
    return h, (h, c)


def _rnn_step(g, w, hidden, pre_t, cont_t, static, states):
    h, = states
    s = g.op("Add", [_project(g, g.op("Mul", [h, cont_t]), w["W_hh"]), pre_t])
    if static is not None:
        s = g.op("Add", [s, static])
    h = g.op("Tanh", [s])
    return g.op("Tanh", [_project(g, h, w["W_ho"], w["b_o"])]), (h,)


def _unrolled(kind, step):
    def convert(g, lp, bottoms, blobs):
        shapes = [b.shape for b in bottoms]
        rule = recurrent_rule(lp, shapes, kind)
        if not rule.expose and not g.batch_free:
            raise Unsupported(f"layer '{lp.name}': the torch engine carries the last state "
                              "of one forward into the next (no expose_hidden)")
        n, hidden, steps = rule.streams(shapes), rule.hidden, rule.T
        blob_shapes = rule.blob_shapes()
        blob_count(lp, blobs, len(blob_shapes))
        w = {name: param_blob(lp, blobs, k, shape)
             for k, (name, shape) in enumerate(blob_shapes)}
        # Caffe's order: the input's weights and bias, then the static input's weights
        w_x, b_x, w_static = (name for name, _, _ in BLOBS[kind][:3])
        x = g.op("Reshape", [bottoms[0], g.const([steps, 0, rule.input_dim])])
        pre = _project(g, x, w[w_x], w[b_x])                                # (T, N, G)
        cont = g.op("Unsqueeze", [bottoms[1], g.const([2])])               # (T, N, 1)
        static = None
        if rule.static:
            static = _project(g, g.op("Reshape", [bottoms[2], g.const([0, rule.static_dim])]),
                              w[w_static])
        if rule.expose:
            states = [g.name(b) for b in bottoms[rule.first_state:][:rule.num_states]]
        else:
            streams = g.op("Slice", [g.op("Shape", [bottoms[1]]), g.const([1]), g.const([2])])
            size = g.op("Concat", [g.const([1]), streams, g.const([hidden])], {"axis": 0})
            states = [g.op("ConstantOfShape", [size])] * rule.num_states    # float zeros
        # every value keeps the time axis (one step: length 1): states are (1, N, H)
        outputs = []
        for t in range(steps):
            index = g.const([t])
            cont_t = g.op("Gather", [cont, index], {"axis": 0})
            pre_t = g.op("Gather", [pre, index], {"axis": 0})
            out, states = step(g, w, hidden, pre_t, cont_t, static, states)
            outputs.append(out)
        seq = outputs[0] if steps == 1 else g.op("Concat", outputs, {"axis": 0})
        tops = [type(bottoms[0])(seq, (steps, n, hidden))]
        if rule.expose:
            tops += [type(bottoms[0])(s, (1, n, hidden)) for s in states]
        return tops
    convert.__doc__ = f"Caffe's {kind}, unrolled (module doc)."
    return convert


for _kind, _step in (("LSTM", _lstm_step), ("RNN", _rnn_step)):
    register(_kind)(_unrolled(_kind, _step)).batch_axes = \
        lambda m, kind=_kind: recurrent_rule(m.param, m.bottom_shapes, kind).stream_axes()


@register("LSTMUnit")
def lstm_unit(g, lp, bottoms, blobs):
    shape, _ = lstm_unit_top_shapes(lp, [b.shape for b in bottoms])
    c_prev, gate, cont = bottoms
    cont = g.op("Unsqueeze", [cont, g.const([2])])                         # (1, N, 1)
    return [type(c_prev)(v, shape) for v in lstm_unit_nodes(g, c_prev, gate, cont, shape[2])]


# every bottom holds the streams on axis 1
lstm_unit.batch_axes = lambda m: {0: 1, 1: 1, 2: 1}
