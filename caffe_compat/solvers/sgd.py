"""Caffe's SGDSolver (src/caffe/solvers/sgd_solver.cpp): the update shared by every solver type.

``ApplyUpdate`` for the update at iteration ``iter``, in Caffe's order and in float32:

1. ``rate = GetLearningRate()`` (see :mod:`.lr_policy`), logged as ``Iteration N, lr = X``;
2. ``ClipGradients``: when ``clip_gradients >= 0`` and the global L2 norm of all learnable
   diffs exceeds it, every diff is scaled by ``clip_gradients / norm``;
3. per learnable parameter (Caffe's learnable order):
   ``Normalize`` (``diff *= 1 / iter_size`` when ``iter_size > 1``),
   ``Regularize`` (``local_decay = weight_decay * decay_mult``; L2: ``diff += local_decay *
   data``; L1: ``diff += local_decay * sign(data)``),
   ``ComputeUpdateValue`` with ``local_rate = rate * lr_mult``; for SGD
   ``history = local_rate * diff + momentum * history`` and ``diff = history`` (the learning
   rate is applied before the momentum, unlike ``torch.optim.SGD``);
4. ``Net::Update``: ``data -= diff``.

The update runs as a few fused calls (``torch._foreach_*``): one per step over all parameters,
or one per ``decay_mult`` / ``lr_mult`` value where the step's factor differs (groups decided
once, see :meth:`SGDSolver.update_plan`), each call the same float32 operation per element as
the per-blob form, in the same order for each parameter, so the two give the same bits
(``fused_update = False`` runs the per-blob form; tests/caffe_compat/solvers/
test_fused_update.py compares them). Caffe's SGD rule itself, with L2 or no decay, on float32
CPU blobs, goes further: one C call for every blob (:mod:`caffe_compat.kernels.sgd_update`,
used only where it gives the bits of torch's calls on the machine, checked once per process).

Parameters with ``lr_mult: 0`` get no gradient in Caffe; their diff is zero before
regularization (which still feeds the history of the adaptive solvers).
"""
from __future__ import annotations

import numpy as np
import torch

from ..kernels import sgd_update
from ..diagnostics.glog import g
from .base import Solver
from .host_reads import host_value

_f32 = np.float32


class SGDSolver(Solver):
    """Stochastic gradient descent with Caffe's momentum form."""

    type_name = "SGD"
    # the update as fused calls over groups of parameters (False: Caffe's per-blob loop)
    fused_update = True
    _plan_key = None

    def _diffs(self):
        """Each learnable parameter's diff (a zero tensor where Caffe computes none)."""
        out = []
        for p, lr in zip(self._params, self._lr_mults):
            if p.grad is None or lr == 0:
                p.grad = torch.zeros_like(p)
            out.append(p.grad)
        return out

    def clip_gradients(self, diffs):
        clip = _f32(self.param.clip_gradients)
        if clip < 0:
            return
        sumsq = _f32(0)
        # each blob's sum of squares, read in one host read (caffe_compat.solvers.host_reads);
        # float64 holds each float32 (or float64) dot exactly
        dots = host_value(torch.stack([torch.dot(d.reshape(-1), d.reshape(-1)).to(torch.float64)
                                       for d in diffs])) if diffs else ()
        for dot in dots:
            sumsq = _f32(sumsq + _f32(dot))
        norm = _f32(np.sqrt(sumsq))
        if norm > clip:
            scale = _f32(clip / norm)
            self.log.info(f"Gradient clipping: scaling down gradients (L2 norm {g(norm)} > "
                          f"{g(clip)}) by scale factor {g(scale)}", "sgd_solver.cpp:99")
            for d in diffs:
                d.mul_(float(scale))

    def normalize(self, i, diff):
        if self.param.iter_size != 1:
            diff.mul_(float(_f32(1) / _f32(self.param.iter_size)))

    def regularize(self, i, diff):
        local_decay = _f32(self.param.weight_decay) * self._decay_mults[i]
        if not local_decay:
            return
        data = self._params[i].detach()
        if self.param.regularization_type == "L2":
            diff.add_(data, alpha=float(local_decay))
        else:
            diff.add_(torch.sign(data), alpha=float(local_decay))

    def compute_update_value(self, i, diff, rate):
        """Leave the value to subtract from the parameter in ``diff``."""
        local_rate = float(rate * self._lr_mults[i])
        momentum = float(_f32(self.param.momentum))
        h = self.history[i]
        h.mul_(momentum).add_(diff, alpha=local_rate)
        diff.copy_(h)

    def compute_update_values(self, diffs, rate, lr_groups):
        """:meth:`compute_update_value` for every learnable parameter as fused calls: one call
        per step for all parameters where the step is the same for all, one per ``lr_mult``
        (``lr_groups``: lists of indices) where it is not; the same operations per element.
        The momentum is a float32 0-d tensor: torch multiplies by it as by the Python number
        (both are CPU scalars to its kernel, the number rounded to float32 first), without
        making a tensor of the number at each call."""
        history = self.history if len(self.history) == len(diffs) else \
            self.history[:len(diffs)]
        torch._foreach_mul_(history, self._momentum_scalar(history))
        if len(lr_groups) == 1:               # one lr_mult: every parameter in one call
            torch._foreach_add_(history, diffs, alpha=self.local_rate(rate, lr_groups[0]))
        else:
            for indices in lr_groups:
                torch._foreach_add_([history[i] for i in indices], [diffs[i] for i in indices],
                                    alpha=self.local_rate(rate, indices))
        torch._foreach_copy_(diffs, history)

    _momentum = (None, None)

    def _momentum_scalar(self, history):
        """``momentum`` for ``history`` on the CPU as a float32 0-d tensor (made again when the
        parameter changes), else as a Python number."""
        value = self.param.momentum
        if not history or not history[0].is_cpu:
            return float(_f32(value))
        if self._momentum[0] != value:
            self._momentum = (value, torch.tensor(float(_f32(value)), dtype=torch.float32))
        return self._momentum[1]

    def local_rate(self, rate, indices):
        """``rate * lr_mult`` of the parameters ``indices`` (one ``lr_mult``), as a float."""
        return float(rate * self._lr_mults[indices[0]])

    def update_plan(self):
        """``(detached parameters, decay groups, lr groups)``: the learnable parameters (Caffe's
        order) detached, ``[(indices, local_decay)]`` for the nonzero ``local_decay`` values
        and ``[indices]`` per ``lr_mult``; decided once, and again only when the parameters, their
        storage or their multipliers change."""
        decay = _f32(self.param.weight_decay)
        # the storage too: a net moved to another device keeps its Parameter objects
        key = (tuple((id(p), p.data_ptr()) for p in self._params), tuple(self._lr_mults),
               tuple(self._decay_mults), decay,
               tuple((id(h), h.data_ptr()) for h in self.history))
        if key != self._plan_key:
            decay_groups, lr_groups = {}, {}
            for i, (lr, mult) in enumerate(zip(self._lr_mults, self._decay_mults)):
                decay_groups.setdefault(decay * mult, []).append(i)
                lr_groups.setdefault(lr, []).append(i)
            self._plan = ([p.detach() for p in self._params],
                          [(idx, local_decay) for local_decay, idx in decay_groups.items()
                           if local_decay],
                          list(lr_groups.values()))
            self._kernel_arrays = self._arrays_for_kernel(self._plan[0], decay)
            self._plan_key = key
        return self._plan

    _kernel_arrays = None

    def _arrays_for_kernel(self, data, decay):
        """``(weight arrays, history arrays, local_decay per blob, the tensors behind the
        arrays)`` for the one-call C update
        (:mod:`caffe_compat.kernels.sgd_update`) where it applies: Caffe's SGD rule itself (not
        a subclass's), L2 or no decay, every parameter and history blob a C-contiguous float32
        CPU tensor, and the C loop matching torch's calls on this machine; else None."""
        if type(self).compute_update_values is not SGDSolver.compute_update_values or \
                not sgd_update.available() or not data:
            return None
        if self.param.regularization_type != "L2" and \
                any(decay * mult for mult in self._decay_mults):
            return None
        history = self.history[:len(data)]
        tensors = list(data) + history
        if len(history) != len(data) or any(
                not t.is_cpu or t.dtype != torch.float32 or not t.is_contiguous()
                for t in tensors):
            return None
        return ([t.numpy() for t in data], [h.numpy() for h in history],
                [float(decay * mult) for mult in self._decay_mults], tuple(data) + tuple(history))

    def _kernel_update(self, diffs, rate):
        """The update in one C call where :meth:`_arrays_for_kernel` allows and every diff is a
        C-contiguous float32 CPU tensor (the C call checks every buffer before it changes
        any); returns whether it ran."""
        arrays = self._kernel_arrays
        if arrays is None:
            return False
        try:
            diff_arrays = [d.numpy() for d in diffs]
            sgd_update.update(arrays[0], diff_arrays, arrays[1], arrays[2],
                              [float(rate * m) for m in self._lr_mults],
                              float(_f32(self.param.momentum)), arrays[3] + tuple(diffs))
        except (RuntimeError, TypeError, ValueError, BufferError):
            return False                      # a diff off the CPU, needing grad, or strided
        return True

    def _fused_update(self, diffs, rate):
        p = self.param
        data, decay_groups, lr_groups = self.update_plan()
        if p.iter_size != 1:
            torch._foreach_mul_(diffs, float(_f32(1) / _f32(p.iter_size)))
        if self._kernel_update(diffs, rate):
            return
        for indices, local_decay in decay_groups:
            if len(indices) == len(diffs):    # one decay_mult: every parameter in one call
                group, values = diffs, data
            else:
                group = [diffs[i] for i in indices]
                values = [data[i] for i in indices]
            if p.regularization_type != "L2":
                values = torch._foreach_sign(values)
            torch._foreach_add_(group, values, alpha=float(local_decay))
        self.compute_update_values(diffs, rate, lr_groups)
        torch._foreach_sub_(data, diffs)

    def apply_update(self):
        rate = self.get_learning_rate()
        p = self.param
        if p.display and self.iter % p.display == 0:
            self.log.info(f"Iteration {self.iter}, lr = {g(rate)}", "sgd_solver.cpp:112")
        self.learning_rate = rate
        diffs = self._diffs()
        if self.fused_update:
            # diffs, history blobs and detached parameters only: autograd records nothing
            # here, so no no_grad block is needed
            self.clip_gradients(diffs)
            self._fused_update(diffs, rate)
            return
        with torch.no_grad():
            self.clip_gradients(diffs)
            for i, diff in enumerate(diffs):
                self.normalize(i, diff)
                self.regularize(i, diff)
                self.compute_update_value(i, diff, rate)
            torch._foreach_sub_([q.detach() for q in self._params], diffs)

    def check_param(self):
        pass

