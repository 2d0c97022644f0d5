"""LSTM and RNN (Caffe's RecurrentLayer) through the helpers ``lstm``/``rnn`` (and one
LSTMUnit step through ``lstm_unit``), which unroll
the T steps as Caffe's unrolled net does, ``cont`` restarting a sequence mid-way (a torch
``nn.LSTM`` cannot: it has no per-step reset, and its gate order is i, f, g, o).

The parameters keep Caffe's blob names and shapes (``W_xc``, ``b_c``, ``W_hc``, ...). The
initial state is zero, as in a freshly loaded net (Caffe carries the last state of one forward
into the next without ``expose_hidden``; the generated module does not, as the ONNX export);
with ``expose_hidden`` it is the given h_0 / c_0 bottoms and the final states are tops (no
gradient crosses either, as in Caffe, which shares only their data with the unrolled net).
"""
from ....rules import recurrent as recurrent_rules
from ....rules.fields import declare
from ...fields import fillers
from ..registry import register_emitter

declare("pytorch-source", ("LSTM", "RNN"), "RecurrentParameter", recurrent_rules.FIELDS,
        no_effect={**fillers("RecurrentParameter"), **recurrent_rules.NO_EFFECT})


def _recurrent(e, fn, names, static_blob, states):
    m = e.module
    blobs = m.names_of_blobs(len(m.blobs))
    attr = e.parameters(**{name: e.weight(getattr(m, name), i) for i, name in enumerate(blobs)})
    x, cont = e.bottoms[:2]
    # Caffe never propagates to cont
    args = [x, f"{cont}.detach()"] + [f"{attr}.{n}" for n in names]
    k = 3 if m.static else 2
    if m.expose:          # the given initial states (Caffe passes them no gradient)
        args += [f"{b}.detach()" for b in e.bottoms[k:k + len(states)]]
    if m.static:
        args += [f"x_static={e.bottoms[2]}", f"{static_blob.lower()}={attr}.{static_blob}"]
    call = f"{e.helper(fn)}({', '.join(args)})"
    if not m.expose:
        return f"{call}[0]"
    steps = e.temp(call, f"{e.name}_steps")
    # the final states as tops, through which Caffe passes no gradient back
    return [f"{steps}[0]"] + [f"{steps}[{j + 1}].detach().unsqueeze(0)"
                              for j in range(len(states))]


@register_emitter("LSTM")
def lstm(e):
    return _recurrent(e, "lstm", ["W_xc", "b_c", "W_hc"], "W_xc_static", ["h", "c"])


@register_emitter("RNN")
def rnn(e):
    return _recurrent(e, "rnn", ["W_xh", "b_h", "W_hh", "W_ho", "b_o"], "W_xh_static", ["h"])


@register_emitter("LSTMUnit")
def lstm_unit(e):
    """One step of Caffe's LSTM (bottoms c_prev, gate inputs, cont; tops c, h) through the
    helper ``lstm_unit``; ``cont`` gets no gradient, as in Caffe."""
    c_prev, gates, cont = e.bottoms
    return f"{e.helper('lstm_unit')}({c_prev}, {gates}, {cont}.detach())"
