"""The parts of Caffe's update that every solver type shares: history blobs, learning rate.

Caffe's SGDSolver::PreSolve creates one history blob per learnable parameter (``history_sets``
of them for solvers that keep more, such as Adam's two moments); ``GetLearningRate`` evaluates
the ``lr_policy`` at the current iteration and advances ``current_step`` for the ``step`` /
``multistep`` policies. The update rule itself (``apply_update``) is each solver type's own
(:mod:`.sgd`, :mod:`.nesterov`, :mod:`.adagrad`, :mod:`.rmsprop`, :mod:`.adadelta`,
:mod:`.adam`).
"""
from __future__ import annotations

import torch

from .lr_policy import RateMixin


class UpdateMixin(RateMixin):
    """History blobs and the learning rate of :class:`~caffe_compat.solvers.base.Solver`."""

    # ------------------------------------------------------------------ history
    def pre_solve(self):
        """Create the history blobs (zeros, one set per parameter and ``history_sets``)."""
        self.history = [torch.zeros_like(p, memory_format=torch.contiguous_format).detach()
                        for _ in range(self.history_sets) for p in self._params]

    history_sets = 1

    def apply_update(self):
        raise NotImplementedError

    def _clear_param_diffs(self):
        for p in self._params:
            p.grad = None

