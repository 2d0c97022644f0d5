"""Caffe's RecurrentLayer rules (recurrent_layer.cpp; lstm_layer.cpp and rnn_layer.cpp for
their states and blobs), read by every engine of LSTM and RNN: ``recurrent_param.num_output``
H (positive) and ``expose_hidden``.

Bottoms: ``x`` (T, N, ...; T fixed when the layer is set up), ``cont`` (T, N), an optional
``x_static`` (N, ...) and with ``expose_hidden`` each initial state (1, N, H). Tops: the
output (T, N, H) and with ``expose_hidden`` each last state (1, N, H). The streams N stay on
axis 1 of every bottom but ``x_static``. Parameter blobs, in Caffe's order (the unrolled
net's): LSTM ``W_xc`` (4H x I), ``b_c`` (4H), ``W_xc_static`` (4H x S, with a static input),
``W_hc`` (4H x H); RNN ``W_xh`` (H x I), ``b_h`` (H), ``W_xh_static`` (H x S), ``W_hh``,
``W_ho`` (H x H), ``b_o`` (H); ``I`` and ``S`` the values per step and stream of ``x`` and
``x_static``. Refused: other counts of bottoms or tops, another T, bottoms of other shapes.
"""
from __future__ import annotations

import math

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"num_output", "expose_hidden"})
FILLERS = frozenset({"weight_filler", "bias_filler"})
NO_EFFECT = {"debug_info": "Caffe's logging of the unrolled net; the values are the same"}

# each type's states, and its blobs: (name, rows in units of H, what the columns count: the
# input's values, the static input's, H, or None for a bias)
STATES = {"LSTM": ("h", "c"), "RNN": ("h",)}
BLOBS = {"LSTM": (("W_xc", 4, "input"), ("b_c", 4, None), ("W_xc_static", 4, "static"),
                  ("W_hc", 4, "hidden")),
         "RNN": (("W_xh", 1, "input"), ("b_h", 1, None), ("W_xh_static", 1, "static"),
                 ("W_hh", 1, "hidden"), ("W_ho", 1, "hidden"), ("b_o", 1, None))}


@frozen
class RecurrentRule:
    layer: object
    kind: str               # "LSTM" or "RNN": its states and blobs
    type_name: str
    hidden: int
    expose: bool
    static: bool
    T: int
    input_dim: int
    static_dim: object      # None without a static input

    @property
    def state_names(self):
        return STATES[self.kind]

    @property
    def num_states(self):
        return len(STATES[self.kind])

    @property
    def first_state(self):
        """The index of the first exposed initial state among the bottoms."""
        return 3 if self.static else 2

    def stream_axes(self):
        """``{bottom index: 1}``: the bottoms holding the streams on axis 1."""
        exposed = range(self.first_state, self.first_state + self.num_states * self.expose)
        return {k: 1 for k in (0, 1, *exposed)}

    def blob_shapes(self):
        """``[(name, shape)]`` of the parameter blobs, in Caffe's order."""
        columns = {"input": self.input_dim, "static": self.static_dim, "hidden": self.hidden}
        return [(name, (rows * self.hidden,) if what is None else
                 (rows * self.hidden, columns[what]))
                for name, rows, what in BLOBS[self.kind] if what != "static" or self.static]

    def fillers(self):
        """The FillerParameter of each blob, in Caffe's order (``bias_filler`` for the
        biases, ``weight_filler`` for the others)."""
        rp = self.layer.recurrent_param
        return [rp.weight_filler if len(shape) == 2 else rp.bias_filler
                for _, shape in self.blob_shapes()]

    def _fail(self, message):
        refuse(self.layer, message, None, self.type_name)

    def streams(self, shapes):
        """N of the bottoms of ``shapes``, refusing what Caffe's Reshape refuses."""
        x, cont = tuple(shapes[0]), tuple(shapes[1])
        if len(x) < 2:
            self._fail(f"bottom 0 (x) must have at least 2 axes (T, N, ...), got shape {x}")
        if x[0] != self.T:
            self._fail(f"the number of time steps changed: {x[0]}, set up with {self.T} "
                       "(Caffe fixes T when the layer is set up)")
        if math.prod(x[2:]) != self.input_dim:
            self._fail(f"x has {math.prod(x[2:])} values per step and stream (shape {x}), the "
                       f"weights expect {self.input_dim}")
        n = x[1]
        if len(cont) != 2 or cont != (self.T, n):
            self._fail(f"bottom 1 (cont) must have shape (T, N) = ({self.T}, {n}), got {cont}")
        if self.static:
            s = tuple(shapes[2])
            if len(s) < 1 or s[0] != n:
                self._fail(f"bottom 2 (x_static) must have N = {n} rows, got shape {s}")
            if math.prod(s[1:]) != self.static_dim:
                self._fail(f"x_static has {math.prod(s[1:])} values per stream (shape {s}), "
                           f"the weights expect {self.static_dim}")
        if self.expose:
            want = (1, n, self.hidden)
            for j, name in enumerate(self.state_names):
                got = tuple(shapes[self.first_state + j])
                if got != want:
                    self._fail(f"bottom {self.first_state + j} ({name}_0) must have shape "
                               f"{want} (1, N, num_output), got {got}")
        return n

    def top_shapes(self, shapes):
        n = self.streams(shapes)
        return [(self.T, n, self.hidden)] + [(1, n, self.hidden)] * (
            self.num_states * self.expose)


def recurrent_rule(layer, bottom_shapes, kind, type_name=None):
    """The :class:`RecurrentRule` of ``layer`` (a LayerParameter of ``kind``, "LSTM" or
    "RNN") for bottoms of ``bottom_shapes``, refusing what Caffe's LayerSetUp and Reshape
    refuse."""
    rp, type_name = layer.recurrent_param, type_name or layer.type
    hidden = int(rp.num_output)
    if hidden <= 0:
        refuse(layer, "recurrent_param.num_output must be positive",
               "recurrent_param.num_output", type_name)
    expose, states = bool(rp.expose_hidden), STATES[kind]
    exposed = len(states) if expose else 0
    nb, nt, lo = len(bottom_shapes), len(layer.top), 2 + exposed
    if not lo <= nb <= lo + 1:
        refuse(layer, f"takes {lo} or {lo + 1} bottoms (x, cont, optional x_static"
               + (", " + ", ".join(f"{s}_0" for s in states) if expose else "")
               + f"), got {nb}", None, type_name)
    if nt != 1 + exposed:
        refuse(layer, f"takes exactly {1 + exposed} top(s) (the output"
               + (", " + ", ".join(f"{s}_T" for s in states) if expose else "")
               + f"), got {nt}", None, type_name)
    x = tuple(bottom_shapes[0])
    if len(x) < 2:
        refuse(layer, f"bottom 0 (x) must have at least 2 axes (T, N, ...), got shape {x}",
               None, type_name)
    static = nb > lo
    static_dim = None
    if static:
        s = tuple(bottom_shapes[2])
        if len(s) < 1:
            refuse(layer, "bottom 2 (x_static) must have at least 1 axis (N, ...)", None,
                   type_name)
        static_dim = math.prod(s[1:])
    rule = RecurrentRule(layer, kind, type_name, hidden, expose, static, x[0],
                         math.prod(x[2:]), static_dim)
    rule.streams(bottom_shapes)
    return rule
