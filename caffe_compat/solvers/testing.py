"""Caffe's Solver::Test: ``test_iter`` forward passes of a test net, the mean of every output.

Each pass polls the action function (a SIGHUP snapshot or a SIGINT stop may arrive during a
test); the losses are summed in float32 when ``test_compute_loss`` is set, and every output
value is averaged over the passes and printed (``Test net output #i: <blob> = mean``, with its
loss weight for loss blobs).

Caffe prints nothing while a test pass runs, which on a CPU can look like a hang (the paper's
solvers test 100 batches of 128 faces). Here the first pass of a run times its first forward
pass and, when the whole pass will take more than :data:`NOTE_SECONDS`, says how long and that
``--test-iter`` (``test_iter=``) shortens it; with ``progress`` a tqdm bar counts the batches.

With the solver's ``defer_host_reads`` (a net on a CUDA device,
:mod:`caffe_compat.solvers.deferred_losses`) the sums stay on the device, added there with the
same float32 additions in the same order, and are read once at the end of the pass.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import torch

from .actions import NONE, SNAPSHOT, STOP
from .display import blob_loss_weights
from .host_reads import host_value
from .nets import share_trained_layers

_f32 = np.float32
NOTE_SECONDS = 10.0     # a test pass expected to take longer is announced with its duration


class TestPassMixin:
    """Test passes of :class:`~caffe_compat.solvers.base.Solver`."""

    _share_trained_layers = staticmethod(share_trained_layers)

    def test(self, test_net_id=0):
        """Caffe's Solver::Test: ``test_iter`` forward passes, mean of every output value."""
        self.log.info(f"Iteration {self.iter}, Testing net (#{test_net_id})", "solver.cpp:347")
        # A snapshot taken during the pass (a SIGHUP) or after it was interrupted (SIGINT)
        # records the test net's position at the start of the pass: resuming redoes the pass
        # from there, as the uninterrupted run did it.
        self.share_with_test_net(test_net_id)
        if self.param.debug_info:          # Caffe: set_debug_info(debug_info) on test nets
            self._stepwise(test_net_id).debug_log = self.log
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
        bar = None
        if self.progress and n > 1:
            from tqdm import tqdm
            bar = tqdm(total=n, desc=f"test #{test_net_id}", unit="batch", leave=False,
                       dynamic_ncols=True, file=self.log.stream or sys.stderr)
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                scores, names, loss = self._test_batches(net, n, test_net_id, bar, t0)
        finally:
            if bar is not None:
                bar.close()
        if self.requested_early_exit:
            self.log.info("Test interrupted.", "solver.cpp:380")
            return
        self._end_test_pass(test_net_id, names, scores, loss, n, blob_loss_weights(net))

    def _test_batches(self, net, n, test_net_id, bar, t0):
        """The ``n`` forward passes of a test pass: summed outputs, their names, summed loss."""
        p = self.param
        scores, names, loss = None, [], _f32(0)
        kept = None                     # on the device: [output sums, loss sum]
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
            outputs, iter_loss = self._test_forward(test_net_id)
            if i == 0 and self.defer_host_reads and isinstance(iter_loss, torch.Tensor) and \
                    all(isinstance(v, torch.Tensor) for v in outputs.values()):
                kept = [None, torch.zeros((), dtype=torch.float32, device=iter_loss.device)]
            if kept is not None:
                self._keep_test_sums(kept, outputs, iter_loss, p.test_compute_loss)
            else:
                if p.test_compute_loss:
                    loss = _f32(loss + iter_loss)
                vec = [np.asarray(host_value(v.detach().float().reshape(-1)), np.float32)
                       for v in outputs.values()]
                flat = np.concatenate(vec) if vec else np.zeros(0, np.float32)
                if i == 0:
                    scores = flat.copy()
                else:
                    scores += flat
            if i == 0:
                names = [name for name, v in outputs.items() for _ in range(v.numel())]
                self._announce_test_pass(net, n, test_net_id, time.perf_counter() - t0)
            if bar is not None:
                bar.update(1)
        if kept is not None and kept[0] is not None:    # one read for the whole pass
            values = host_value(torch.cat([kept[0], kept[1].reshape(1)]))
            scores, loss = values[:-1].copy(), _f32(values[-1])
        return scores, names, loss

    @staticmethod
    def _keep_test_sums(kept, outputs, iter_loss, compute_loss):
        """Add a pass's outputs (and loss) to the sums kept on the device, as the host sums
        add them (float32, element by element, in pass order)."""
        values = [v.detach().float().reshape(-1) for v in outputs.values()]
        flat = torch.cat(values) if values else kept[1].new_zeros(0)
        if kept[0] is None:
            kept[0] = flat.clone()
        else:
            kept[0] += flat
        if compute_loss:
            kept[1] = kept[1] + iter_loss

    def _test_forward(self, test_net_id):
        """One forward pass of test net ``test_net_id`` (Caffe's ``test_net->Forward(&loss)``):
        ({output blob: tensor}, the pass's loss as float32)."""
        net = self.test_nets[test_net_id]
        store = self._debug_pass(test_net_id)
        if store is not None:             # debug_info's lines, layer by layer
            loss = store.forward()
            return {name: store.data[name] for name in net.graph.outputs}, _f32(loss)
        outputs = net.forward()
        if self.defer_host_reads:       # kept on the device (float32, as the host's sum)
            return outputs, (net.loss.detach().to(torch.float32) if net.loss is not None
                             else torch.zeros((), dtype=torch.float32, device=net._ref.device))
        return outputs, (_f32(host_value(net.loss)) if net.loss is not None else _f32(0))

    def _announce_test_pass(self, net, n, test_net_id, first_seconds):
        """Once per solver: the expected duration of a long test pass and how to shorten it."""
        if getattr(self, "_test_pass_announced", False) or n * first_seconds <= NOTE_SECONDS:
            return
        self._test_pass_announced = True
        first = next(iter(net.blobs.values()), None)
        batch = (f" of batch {first.shape[0]}" if first is not None and len(first.shape)
                 else "")
        self.log.info(f"Test net #{test_net_id}: {n} forward passes{batch}, about "
                      f"{n * first_seconds:.0f} s each test (every test_interval = "
                      f"{self.param.test_interval} iterations); --test-iter (test_iter= in "
                      "Python) sets fewer passes, --test-batch-size smaller batches",
                      "solver.cpp:347")      # Caffe's "Iteration N, Testing net (#k)"
