"""The iteration losses of a solver on a device: kept there, read at the display iterations.

Caffe's Solver::Step folds each iteration's loss into the smoothed loss of the display line
(``UpdateSmoothedLoss``: the mean of the last ``average_loss`` losses, in float32). Reading a
loss on the host waits for the device, so with ``defer_host_reads`` (on by default where the
train net is on a CUDA device, off on the CPU, where a read is a plain copy) an iteration
keeps the loss of each forward-backward pass as a device tensor (a float64 copy: exact for
float16, float32 and float64 losses) and the loop goes on; the losses of the iterations since
the last read are read in one host read at the next display iteration, together with the net's
output blobs of the display lines, and folded in iteration order with the same float32
arithmetic as when each is read at once, so the smoothed loss and every log line are the same.
At most :data:`KEEP_AT_MOST` iterations' losses wait (a read every so many iterations where
``display`` is 0 or larger). They are read earlier where a value is asked for:
``smoothed_loss`` or ``last_loss`` read, a callback's ``on_iteration_end(solver, loss)``, the
start of ``step()``, the end of ``solve()``.

A NaN loss: Caffe's solver has no check for one and trains on (the display line shows
``loss = nan``); so does this one, on the CPU and on a device alike.
"""
from __future__ import annotations

import numpy as np
import torch

from .display import iteration_loss
from .host_reads import host_value

_f32 = np.float32
# iterations whose losses wait on the device at most (a read then, without a display)
KEEP_AT_MOST = 1000


def _settled(attr, doc):
    """A property reading ``attr`` after the kept losses are folded in."""
    def read(self):
        if self._pending:
            self.settle_losses()
        return getattr(self, attr)
    return property(read, lambda self, value: setattr(self, attr, value), doc=doc)


class DeferredLossMixin:
    """Losses kept on the device until a display for
    :class:`~caffe_compat.solvers.base.Solver` (see the module doc)."""

    defer_host_reads = False
    _pending = ()                 # (iteration, step's start iteration, average_loss, losses)
    _smoothed = _f32(0)
    _last = None

    smoothed_loss = _settled("_smoothed", "Caffe's smoothed loss of the display line (float32).")
    last_loss = _settled("_last", "The loss of the last iteration (float32; None before the "
                         "first).")

    def _loss_term(self, loss):
        """A pass's loss as the loop keeps it: a float32 read now, or with
        ``defer_host_reads`` a float64 copy on its device (the pass's buffers may be reused)."""
        if self.defer_host_reads:
            return loss.detach().to(torch.float64, copy=True)
        return _f32(host_value(loss))

    def _keep_losses(self, parts, start_iter, average_loss):
        """The losses of the passes of iteration ``iter`` (tensors or host numbers), read later."""
        if not self._pending:
            self._pending = []
        self._pending.append((self.iter, start_iter, average_loss, parts))
        if len(self._pending) >= KEEP_AT_MOST:
            self.settle_losses()

    def settle_losses(self, outputs=None):
        """Read the kept losses (and ``outputs``, {name: tensor or array}) in one host read and
        fold the losses into the smoothed loss in iteration order; returns ``outputs`` with
        float32 numpy arrays for its tensors."""
        pending, self._pending = self._pending, ()
        outputs = dict(outputs or {})
        read = [t.reshape(1) for _, _, _, parts in pending for t in parts
                if isinstance(t, torch.Tensor)]
        names = [name for name, v in outputs.items() if isinstance(v, torch.Tensor)]
        read += [outputs[name].detach().reshape(-1).to(torch.float64) for name in names]
        values = host_value(torch.cat(read)) if read else None
        k = 0
        for it, start_iter, average_loss, parts in pending:
            read_parts = []
            for part in parts:
                if isinstance(part, torch.Tensor):
                    part = values[k]
                    k += 1
                read_parts.append(part)
            loss = self._last = iteration_loss(read_parts)
            self._update_smoothed_loss(loss, start_iter, average_loss, it)
        for name in names:
            n = outputs[name].numel()
            outputs[name] = values[k:k + n].astype(np.float32)
            k += n
        return outputs
