"""The torch engine's solver under pycaffe's Solver (:mod:`caffe._solver`): Caffe's
ForwardBackward on the pycaffe net's blobs, so that values written into ``solver.net.blobs``
feed the next iteration, Python layers train, and the blob and parameter arrays taken from
``solver.net`` stay views of the training net's memory; the test passes and the final display
forward of ``solve()`` run on the pycaffe nets' blobs as well."""
from __future__ import annotations

import contextlib
import functools
import weakref

import numpy as np
import torch

from caffe_compat.net import param_memory


@functools.lru_cache(maxsize=None)
def _pycaffe_engine_class(base):
    """``base`` (an engine solver class) iterating through the pycaffe net's blobs (one class
    per base: a class is a reference cycle, which only the collector frees)."""

    class PycaffeSolver(base):
        # the pycaffe Solver, held weakly: it holds this engine solver, and a strong reference
        # back would be a cycle keeping both, the nets and their databases until the collector
        # runs (Caffe releases them when the last reference goes)
        _owner_ref = None

        @property
        def _owner(self):
            owner = self._owner_ref() if self._owner_ref is not None else None
            if owner is None:
                raise RuntimeError("the pycaffe solver owning this engine solver is gone")
            return owner

        @_owner.setter
        def _owner(self, owner):
            self._owner_ref = weakref.ref(owner)

        # On a device, an iteration's forward and backward passes and its update are one
        # engine run (caffe_compat.net.synced_memory.NetMemory.engine_run) when no Python runs
        # between them (no callbacks): the arrays Python holds are counted as written once
        # before it and brought up to date once after it. With callbacks
        # (``on_gradients_ready`` may read and write them), the passes are one run and the
        # update another.
        _run = None                  # the train net's memory while such a run is open

        def _forward_backward(self):
            store = self._owner.net._store
            memory = store.memory
            if memory is not None and self._run is None:
                memory.begin_run()
                self._run = memory
            try:
                loss = store.forward_backward()
            except BaseException:
                self._end_run()
                raise
            if self.callbacks:
                self._end_run()
            return np.float32(loss)

        def _stepwise(self, test_net_id=None):
            owner = self._owner
            net = owner.net if test_net_id is None else owner._test_nets[test_net_id]
            return net._store

        def _end_run(self):
            memory, self._run = self._run, None
            if memory is not None:
                memory.end_run()

        def step(self, iters):
            try:
                return super().step(iters)
            finally:
                self._end_run()          # (an iteration that stopped before its update)

        def _clear_param_diffs(self):        # in place: views of the diffs stay valid
            with torch.no_grad():
                for p in self._params:
                    if p.grad is not None:
                        p.grad.zero_()
            if self._on_device:
                param_memory.diffs_zeroed(self._params)

        # On a device (GPU mode) the parameters have host and device copies
        # (caffe_compat.net.synced_memory): the engine's own work on them (the update, a
        # snapshot, a restore) finds their device copies up to date, arrays Python holds
        # counted as written, and what it writes is taken as the current copy after, the
        # arrays Python holds of it copied down.
        _on_device = False

        def _all_params(self):
            return self._owner.net._torch_store.memory.params()

        def apply_update(self):
            if not self._on_device:
                return super().apply_update()
            # Caffe's ApplyUpdate writes the diffs too (regularization, the update values)
            # within the iteration's run, Python has not touched the arrays since its start
            with param_memory.engine_on_params(self._params, writes=True, diffs=True,
                                                python=self._run is None):
                super().apply_update()
            self._end_run()

        def snapshot(self):
            if not self._on_device:
                return super().snapshot()
            with param_memory.engine_on_params(self._all_params()):
                return super().snapshot()

        def restore(self, *args, **kwargs):
            if not self._on_device:
                return super().restore(*args, **kwargs)
            with param_memory.engine_on_params(self._all_params(), writes=True, diffs=True):
                return super().restore(*args, **kwargs)

        def test(self, test_net_id=0):
            # a test pass is one run: arrays Python holds are counted once, refreshed after
            # (NetMemory.engine_run, on a device; nothing on the CPU)
            memory = self._owner._test_nets[test_net_id]._store.memory
            with memory.engine_run() if memory is not None else contextlib.nullcontext():
                return super().test(test_net_id)

        def _last_outputs(self):
            store = self._owner.net._store
            return {name: store.data[name] for name in self.net.graph.outputs}

        # The passes the solver runs by itself go through the pycaffe nets' blobs too, so that
        # afterwards ``test_nets[i].blobs`` hold the last batch of a test pass and, after
        # ``solve()``, ``net.blobs`` the batch of its final display forward, as in Caffe.
        def _test_forward(self, test_net_id):
            store = self._owner._test_nets[test_net_id]._store
            loss = store.forward()
            outputs = {name: store.data[name]
                       for name in self.test_nets[test_net_id].graph.outputs}
            return outputs, np.float32(loss)

        def _display_forward(self):
            with torch.no_grad():
                return np.float32(self._owner.net._store.forward())

    PycaffeSolver.__name__ = base.__name__
    return PycaffeSolver
