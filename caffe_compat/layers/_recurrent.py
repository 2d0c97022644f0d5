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
from .base import Layer, count
from .inner_product import CaffeOrderInnerProduct

# the RecurrentParameter fields LSTM and RNN read, and the one that changes nothing
RECURRENT = frozenset({"num_output", "weight_filler", "bias_filler", "expose_hidden"})
RECURRENT_NO_EFFECT = {"debug_info": "Caffe's logging of the unrolled net; the values "
                                     "are the same"}


def inner_product(x, weight, bias=None):
    """``x W^T (+ b)`` for ``x`` (M, K), summed in Caffe's order when that applies."""
    if x.shape[0] > 0 and blas_order.usable(x, weight, *([bias] if bias is not None else [])):
        return CaffeOrderInnerProduct.apply(x, weight, bias, False)
    return F.linear(x, weight, bias)


class RecurrentLayer(Layer):
    """Caffe's RecurrentLayer; subclasses name their state(s) and parameter blobs and run the
    steps (``num_states``: 1 for RNN's h, 2 for LSTM's h and c; ``make_blobs`` adds the
    parameter blobs in Caffe's order, ``run_steps`` computes the unrolled net)."""

    num_states = 1
    state_names = ("h",)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rp = param.recurrent_param
        self.hidden = int(rp.num_output)
        if self.hidden <= 0:
            self.fail("recurrent_param.num_output must be positive")
        self.expose = bool(rp.expose_hidden)
        exposed = self.num_states if self.expose else 0
        nb, nt = len(self.bottom_shapes), len(param.top)
        lo = 2 + exposed
        if not lo <= nb <= lo + 1:
            self.fail(f"takes {lo} or {lo + 1} bottoms (x, cont, optional x_static"
                      + (", " + ", ".join(f"{s}_0" for s in self.state_names)
                         if self.expose else "") + f"), got {nb}")
        if nt != 1 + exposed:
            self.fail(f"takes exactly {1 + exposed} top(s) (the output"
                      + (", " + ", ".join(f"{s}_T" for s in self.state_names)
                         if self.expose else "") + f"), got {nt}")
        self.static = nb > lo
        x, cont = self.bottom_shapes[0], self.bottom_shapes[1]
        if len(x) < 2:
            self.fail(f"bottom 0 (x) must have at least 2 axes (T, N, ...), got shape {x}")
        self.T = x[0]
        self.input_dim = count(x, 2)
        self.static_dim = None
        if self.static:
            s = self.bottom_shapes[2]
            if len(s) < 1:
                self.fail("bottom 2 (x_static) must have at least 1 axis (N, ...)")
            self.static_dim = count(s, 1)
        self.check_shapes(self.bottom_shapes)
        self._state = None        # flat buffers of the carried state(s), Caffe's blob memory
        self.make_blobs()

    # ------------------------------------------------------------------ shapes
    def check_shapes(self, shapes):
        x, cont = tuple(shapes[0]), tuple(shapes[1])
        if len(x) < 2:
            self.fail(f"bottom 0 (x) must have at least 2 axes (T, N, ...), got shape {x}")
        if x[0] != self.T:
            self.fail(f"the number of time steps changed: {x[0]}, set up with {self.T} "
                      "(Caffe fixes T when the layer is set up)")
        if count(x, 2) != self.input_dim:
            self.fail(f"x has {count(x, 2)} values per step and stream (shape {x}), the "
                      f"weights expect {self.input_dim}")
        n = x[1]
        if len(cont) != 2 or cont != (self.T, n):
            self.fail(f"bottom 1 (cont) must have shape (T, N) = ({self.T}, {n}), got {cont}")
        k = 2
        if self.static:
            s = tuple(shapes[2])
            if len(s) < 1 or s[0] != n:
                self.fail(f"bottom 2 (x_static) must have N = {n} rows, got shape {s}")
            if count(s, 1) != self.static_dim:
                self.fail(f"x_static has {count(s, 1)} values per stream (shape {s}), the "
                          f"weights expect {self.static_dim}")
            k = 3
        if self.expose:
            want = (1, n, self.hidden)
            for j, name in enumerate(self.state_names):
                got = tuple(shapes[k + j])
                if got != want:
                    self.fail(f"bottom {k + j} ({name}_0) must have shape {want} (1, N, "
                              f"num_output), got {got}")
        return n

    def top_shapes(self, bottom_shapes):
        n = self.check_shapes(bottom_shapes)
        out = [(self.T, n, self.hidden)]
        if self.expose:
            out += [(1, n, self.hidden)] * self.num_states
        return out

    # ------------------------------------------------------------------ state
    def initial_state(self, bottoms, n, like):
        """The first step's state(s): the exposed bottoms (no gradient, as Caffe), else the
        carried state of the previous forward as Caffe's blobs hold it for this N."""
        if self.expose:
            k = 3 if self.static else 2
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
        n = self.check_shapes([b.shape for b in bottoms])
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
