"""What RNN and LSTM share: Caffe's RecurrentLayer (bottoms, tops, hidden state, blob layout).

Caffe's RecurrentLayer builds an "unrolled" net of InnerProduct, Eltwise, Scale, Slice, TanH /
LSTMUnit layers over the T time steps and exposes the parameters that net owns as its own blobs,
in the unrolled net's parameter order (shared copies of a parameter counted once). The layers
here compute the same unrolled net directly, step by step, with the same operations in the same
order (InnerProduct in Caffe's summation order where that applies, see
:mod:`caffe_compat.kernels.blas_order`), so caffemodels are interchangeable with Caffe's.

Bottoms: ``x`` (T x N x ...; the InnerProduct flattens the axes from 2 on), ``cont`` (T x N:
``cont[t, n] == 0`` starts a new sequence in stream n at step t: the previous hidden state is
multiplied by ``cont_t``), an optional static input ``x_static`` (N x ..., added to every step's
input), and with ``expose_hidden`` the initial hidden state(s) (1 x N x H each). Tops: the
output sequence (T x N x H) and with ``expose_hidden`` the last hidden state(s).

Hidden state between forwards (Caffe's rule): without ``expose_hidden`` the last step's state
of one forward is the first step's initial state of the next (zero before the first forward);
no gradient crosses that boundary. When N changes between forwards Caffe's blobs reinterpret
their memory: the first N*H values of the previous state when N shrinks, zeros once the blob
must grow beyond the largest size it has had; that is reproduced exactly.

Backward (Caffe's): to ``x``, ``x_static`` and the parameters; never to ``cont`` (Caffe refuses),
nor to the exposed initial states (Caffe shares only their data with the unrolled net), and the
gradients arriving at the exposed final-state tops are ignored (Caffe does not share their
diffs). ``recurrent_param.debug_info`` (Caffe's per-layer logging of the unrolled net) is
accepted and has no effect.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..kernels import blas_order
from .base import Layer
from .inner_product import CaffeOrderInnerProduct
from ..rules.fields import declare
from ..rules.recurrent import BLOBS, FIELDS, FILLERS, NO_EFFECT, recurrent_rule

declare("torch", ("LSTM", "RNN"), "RecurrentParameter", FIELDS | FILLERS, no_effect=NO_EFFECT)


def inner_product(x, weight, bias=None):
    """``x W^T (+ b)`` for ``x`` (M, K), summed in Caffe's order when that applies."""
    if x.shape[0] > 0 and blas_order.usable(x, weight, *([bias] if bias is not None else [])):
        return CaffeOrderInnerProduct.apply(x, weight, bias, False)
    return F.linear(x, weight, bias)


class RecurrentLayer(Layer):
    """Caffe's RecurrentLayer: the parameters, shapes, states and blobs of
    :func:`caffe_compat.rules.recurrent.recurrent_rule` for the subclass's ``kind``, whose
    ``run_steps`` computes the unrolled net."""

    kind = None             # "LSTM" or "RNN" (caffe_compat.rules.recurrent)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = recurrent_rule(param, self.bottom_shapes, self.kind, self.type_name)
        self.hidden, self.expose, self.static, self.T = rule.hidden, rule.expose, rule.static, \
            rule.T
        self.input_dim, self.static_dim = rule.input_dim, rule.static_dim
        self.num_states = rule.num_states
        self._state = None        # flat buffers of the carried state(s), Caffe's blob memory
        for name, shape in rule.blob_shapes():
            self.add_blob(name, shape)

    @classmethod
    def names_of_blobs(cls, n):
        """The blobs' names (the static input's weight only where ``n`` counts it)."""
        table = BLOBS[cls.kind]
        names = [name for name, _, what in table if what != "static" or n == len(table)]
        return [names[i] if i < len(names) else f"blob{i}" for i in range(n)]

    def top_shapes(self, bottom_shapes):
        return self.rule.top_shapes(bottom_shapes)

    # ------------------------------------------------------------------ state
    def initial_state(self, bottoms, n, like):
        """The first step's state(s): the exposed bottoms (no gradient, as Caffe), else the
        carried state of the previous forward as Caffe's blobs hold it for this N."""
        if self.expose:
            k = self.rule.first_state
            return [b.detach().reshape(n, self.hidden) for b in bottoms[k:k + self.num_states]]
        size = n * self.hidden
        if self._state is None or self._state[0].numel() < size:
            # Caffe's Blob::Reshape allocates zeroed memory when the blob has to grow
            self._state = [torch.zeros(size, dtype=like.dtype, device=like.device)
                           for _ in range(self.num_states)]
        return [s[:size].to(dtype=like.dtype, device=like.device).reshape(n, self.hidden).clone()
                for s in self._state]

    def keep_state(self, states):
        if self.expose:
            return
        for buf, s in zip(self._state, states):
            flat = s.detach().reshape(-1)
            buf[:flat.numel()] = flat.to(buf.dtype)

    def reset(self):
        """Zero the carried hidden state (Caffe's RecurrentLayer::Reset)."""
        if self._state is not None:
            for s in self._state:
                s.zero_()

    # ------------------------------------------------------------------ running
    def forward(self, *bottoms):
        x, cont = bottoms[0], bottoms[1]
        n = self.rule.streams([b.shape for b in bottoms])
        xs = bottoms[2] if self.static else None
        states = self.initial_state(bottoms, n, x)
        outputs, states = self.run_steps(x.reshape(self.T, n, self.input_dim), cont.detach(),
                                         None if xs is None else xs.reshape(n, self.static_dim),
                                         states)
        self.keep_state(states)
        if not self.expose:
            return outputs
        return (outputs,) + tuple(s.detach().reshape(1, n, self.hidden).clone() for s in states)

    def run_steps(self, x, cont, x_static, states):
        """``(outputs (T, N, H), final states)`` for ``x`` (T, N, I), ``cont`` (T, N)."""
        raise NotImplementedError
