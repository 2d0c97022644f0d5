"""Caffe's SolverAction and solver callbacks.

An action function (``set_action_function``) is polled once per iteration and once per test
batch and answers ``"none"``, ``"stop"`` or ``"snapshot"`` (the command line maps SIGINT and
SIGHUP to them, as ``caffe train`` does). Callbacks are objects with optional ``on_start``,
``on_gradients_ready`` and ``on_iteration_end`` methods, called where Caffe calls its solver
callbacks.
"""
from __future__ import annotations

# Caffe's SolverAction.
NONE, STOP, SNAPSHOT = "none", "stop", "snapshot"
ACTIONS = (NONE, STOP, SNAPSHOT)


class CallbacksMixin:
    """The solver callbacks of both engines' solvers."""

    def add_callback(self, callback):
        """An object with optional ``on_start(solver)``, ``on_gradients_ready(solver)`` and
        ``on_iteration_end(solver, loss)`` methods, called as Caffe's solver callbacks."""
        self.callbacks.append(callback)

    def _call(self, name, *args):
        for cb in self.callbacks:
            fn = getattr(cb, name, None)
            if fn is not None:
                fn(self, *args)


class ActionsMixin(CallbacksMixin):
    """Action polling and callbacks of :class:`~caffe_compat.solvers.base.Solver`."""

    def set_action_function(self, fn):
        """``fn() -> "none" | "stop" | "snapshot"`` polled once per iteration and test batch."""
        self.action_function = fn

    def _requested_action(self):
        if self.action_function is None:
            return NONE
        action = self.action_function()
        return action if action in ACTIONS else NONE
