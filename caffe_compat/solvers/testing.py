"""Caffe's Solver::Test: ``test_iter`` forward passes of a test net, the mean of every output.

Each pass polls the action function (a SIGHUP snapshot or a SIGINT stop may arrive during a
test); the losses are summed in float32 when ``test_compute_loss`` is set, and every output
value is averaged over the passes and printed (``Test net output #i: <blob> = mean``, with its
loss weight for loss blobs).
"""
from __future__ import annotations

import numpy as np
import torch

from ._log import g
from .actions import NONE, SNAPSHOT, STOP
from .display import blob_loss_weights

_f32 = np.float32


class TestPassMixin:
    """Test passes of :class:`~caffe_compat.solvers.base.Solver`."""

    def test_all(self):
        for i in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(i)

    def test(self, test_net_id=0):
        """Caffe's Solver::Test: ``test_iter`` forward passes, mean of every output value."""
        self.log.info(f"Iteration {self.iter}, Testing net (#{test_net_id})", "solver.cpp:347")
        # A snapshot taken during the pass (a SIGHUP) or after it was interrupted (SIGINT)
        # records the test net's position at the start of the pass: resuming redoes the pass
        # from there, as the uninterrupted run did it.
        label = f"test#{test_net_id}"
        start = (label, self._position_of(label))
        self._test_pass_start = start
        try:
            self._test_passes(test_net_id)
        finally:
            self._test_pass_start = None
        if self.requested_early_exit:
            self._load_position_of(*start)

    def _test_passes(self, test_net_id):
        p = self.param
        net = self.test_nets[test_net_id]
        n = p.test_iter[test_net_id]
        scores, names = None, []
        loss = _f32(0)
        with torch.no_grad():
            for i in range(n):
                request = self._requested_action()
                while request != NONE:
                    if request == SNAPSHOT:
                        self.snapshot()
                    elif request == STOP:
                        self.requested_early_exit = True
                    request = self._requested_action()
                if self.requested_early_exit:
                    break
                outputs = net.forward()
                if p.test_compute_loss:
                    iter_loss = _f32(net.loss.item()) if net.loss is not None else _f32(0)
                    loss = _f32(loss + iter_loss)
                vec = [np.asarray(v.detach().float().cpu().numpy(), np.float32).ravel()
                       for v in outputs.values()]
                flat = np.concatenate(vec) if vec else np.zeros(0, np.float32)
                if i == 0:
                    scores = flat.copy()
                    names = [name for name, v in zip(outputs, vec) for _ in range(v.size)]
                else:
                    scores += flat
        if self.requested_early_exit:
            self.log.info("Test interrupted.", "solver.cpp:380")
            return
        if p.test_compute_loss:
            loss = _f32(loss / _f32(n))
            self.log.info(f"Test loss: {g(loss)}", "solver.cpp:386")
        means = self._display_test_outputs(names, scores, n, blob_loss_weights(net))
        self.test_scores[test_net_id] = list(zip(names, means))
