"""What the solver prints while it trains: the smoothed loss and the net outputs.

Caffe's ``UpdateSmoothedLoss`` keeps a running average of the last ``average_loss`` iteration
losses, in float32 and with its own arithmetic (a mean while the window fills, then
``smoothed += (loss - oldest) / average_loss``). Every ``display`` iterations the solver prints
``Iteration N (...), loss = X`` and one ``Train net output #k: <blob> = v`` line per output
value, with ``(* w = w*v loss)`` for loss blobs; test passes print the same lines for their
means (:mod:`.testing`). The glog line format is :mod:`._log`'s.
"""
from __future__ import annotations

import time

import numpy as np

from ..diagnostics.glog import g
from .host_reads import host_value

_f32 = np.float32


def iteration_loss(parts):
    """Caffe's loss of one iteration from its ``iter_size`` passes' losses: their float32 sum,
    in pass order, divided by their count in float32 (Solver::Step)."""
    loss = _f32(0)
    for part in parts:
        loss = _f32(loss + _f32(part))
    return _f32(loss / _f32(len(parts)))


class DisplayMixin:
    """The smoothed loss and the display lines of both engines' solvers, with the steps of
    Solve and Test around them that both run alike."""

    def _init_run_state(self):
        """A new solver's counters, losses, test scores and callbacks (both engines')."""
        self.iter = self.current_step = self._iterations_last = 0
        self.requested_early_exit = False
        self.smoothed_loss, self._losses = _f32(0), []
        self.last_loss = self.final_loss = None
        self.test_scores = [[] for _ in self.test_nets]
        self._test_nets_shared = [False] * len(self.test_nets)
        self.callbacks = []

    def _update_smoothed_loss(self, loss, start_iter, average_loss, it=None):
        """Fold iteration ``it``'s loss (default: ``iter``'s) into the smoothed loss."""
        if len(self._losses) < average_loss:
            self._losses.append(loss)
            size = len(self._losses)
            self.smoothed_loss = _f32((self.smoothed_loss * _f32(size - 1) + loss) / _f32(size))
        else:
            idx = ((self.iter if it is None else it) - start_iter) % average_loss
            self.smoothed_loss = _f32(self.smoothed_loss
                                      + (loss - self._losses[idx]) / _f32(average_loss))
            self._losses[idx] = loss

    def _solve_begin(self, resume):
        """The start of Caffe's Solver::Solve: its lines, the restore of ``resume``; returns
        the iteration it starts from."""
        self.log.info(f"Solving {self.net.name}", "solver.cpp:289")
        self.log.info(f"Learning Rate Policy: {self.param.lr_policy}", "solver.cpp:290")
        self.requested_early_exit = False
        if resume:
            self.log.info(f"Restoring previous solver status from {resume}", "solver.cpp:305")
            self.restore(resume)
        return self.iter

    def _solve_end(self, start_iter):
        """The end of Caffe's Solver::Solve after Step: the final snapshot (unless just
        written), a forward of the train net shown as ``Iteration N, loss = X`` at a display
        iteration, a last test pass, "Optimization Done."."""
        p = self.param
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
            self.snapshot()
        if self.requested_early_exit:
            self.log.info("Optimization stopped early.", "solver.cpp:319")
            return
        if p.display and self.iter % p.display == 0:
            loss = self.final_loss = self._display_forward()
            self._update_smoothed_loss(loss, start_iter, p.average_loss)
            self.log.info(f"Iteration {self.iter}, loss = {g(self.smoothed_loss)}",
                          "solver.cpp:327")
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        self.log.info("Optimization Done.", "solver.cpp:332")

    def test_all(self):
        for i in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(i)

    def share_with_test_net(self, test_net_id):
        """Caffe's ``test_net->ShareTrainedLayersWith(net_)`` at the start of Solver::Test: from
        the first test pass on, the test net computes with the train net's parameter blobs
        (``_share_trained_layers(test net, train net)``: the engine's)."""
        if not self._test_nets_shared[test_net_id]:
            self._share_trained_layers(self.test_nets[test_net_id], self.net)
            self._test_nets_shared[test_net_id] = True

    def _display_iteration(self, since, outputs=None):
        """Caffe's display lines of iteration ``iter``: ``Iteration N (x iter/s, ys/z iters),
        loss = L`` over the time ``since`` (a perf_counter) and the train net's outputs
        (``outputs``, already read, or read here); returns the time the next display's rate
        counts from."""
        lapse = time.perf_counter() - since
        per_s = (self.iter - self._iterations_last) / (lapse if lapse else 1.0)
        self.log.info(f"Iteration {self.iter} ({g(per_s)} iter/s, {g(lapse)}s/"
                      f"{self.param.display} iters), loss = {g(self.smoothed_loss)}",
                      "solver.cpp:239")
        self._iterations_last = self.iter
        now = time.perf_counter()
        self._display_outputs(self._last_outputs() if outputs is None else outputs, "Train")
        return now

    def _display_outputs(self, outputs, prefix):
        score_index = 0
        for name, value in outputs.items():
            weight = _f32(self._output_weights.get(name, 0.0))
            for v in output_values(value):
                extra = f" (* {g(weight)} = {g(weight * v)} loss)" if weight else ""
                self.log.info(f"    {prefix} net output #{score_index}: {name} = {g(v)}{extra}",
                              "solver.cpp:258")
                score_index += 1

    def _last_outputs(self):
        net = self.net
        return {name: net.blobs[name].data for name in net.graph.outputs}

    def _end_test_pass(self, test_net_id, names, scores, loss, n, weights):
        """The end of Caffe's Solver::Test over ``n`` passes: the mean loss
        (``test_compute_loss``) and the ``Test net output #i`` lines of the output means,
        kept in ``test_scores``."""
        if self.param.test_compute_loss:
            loss = _f32(loss / _f32(n))
            self.log.info(f"Test loss: {g(loss)}", "solver.cpp:386")
        means = []
        for i, name in enumerate(names):
            mean = _f32(scores[i] / _f32(n))
            means.append(mean)
            w = _f32(weights.get(name, 0.0))
            extra = f" (* {g(w)} = {g(w * mean)} loss)" if w else ""
            self.log.info(f"    Test net output #{i}: {name} = {g(mean)}{extra}",
                          "solver.cpp:414")
        self.test_scores[test_net_id] = list(zip(names, means))


def blob_loss_weights(net):
    """Blob name -> loss weight of its last producer (Caffe's blob_loss_weights_)."""
    out = {}
    for node, _, weights, _ in net._nodes:
        for top, w in zip(node.tops, weights):
            out[top] = w
    return out


def output_values(value):
    """An output blob's values as a flat float32 array: a numpy array (the array engine) or
    a torch tensor (read off its device)."""
    if hasattr(value, "detach"):
        value = host_value(value.detach().float())
    return np.asarray(value, dtype=np.float32).ravel()
