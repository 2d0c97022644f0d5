"""Caffe's SignalHandler for ``caffe-compat train`` (tools/caffe.cpp): SIGINT and SIGHUP set
flags that the solver's action function reads once per iteration and test batch, SIGHUP first,
and answers with the effect the flags give (``-sigint_effect stop``, ``-sighup_effect
snapshot`` by default). A piped stdout or stderr whose reader is gone
(:class:`~caffe_compat.cli._pipes.ReaderWatch`) is answered as a stop."""
from __future__ import annotations

import signal


class Signals:
    """Caffe's SignalHandler: SIGINT/SIGHUP set flags; the solver polls them (SIGHUP first).
    A piped output whose reader is gone (``watch``, :mod:`._pipes`) is a stop; ``cause``:
    the signal's name or ``"reader"``."""

    def __init__(self, sigint_effect, sighup_effect, watch=None):
        self.effects = {signal.SIGINT: sigint_effect, signal.SIGHUP: sighup_effect}
        self.got = {signal.SIGINT: False, signal.SIGHUP: False}
        self.previous = {}
        self.watch, self.cause, self.stopping = watch, None, False

    def _handle(self, signum, frame):
        self.got[signum] = True

    def __enter__(self):
        for s in self.effects:
            self.previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, h in self.previous.items():
            signal.signal(s, h)

    def action(self):
        for s in (signal.SIGHUP, signal.SIGINT):
            if self.got[s]:
                self.got[s] = False
                if self.effects[s] != "none" and not self.stopping:
                    self.cause = signal.Signals(s).name     # (the first stop's cause stays)
                self.stopping |= self.effects[s] == "stop"
                return self.effects[s]
        if self.watch is not None and not self.stopping and self.watch.lost():
            self.cause, self.stopping = "reader", True
            return "stop"
        return "none"
