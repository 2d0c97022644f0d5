"""The torch engine's solver under pycaffe's Solver (:mod:`caffe._solver`): Caffe's
ForwardBackward on the pycaffe net's blobs, so that values written into ``solver.net.blobs``
feed the next iteration, Python layers train, and the blob and parameter arrays taken from
``solver.net`` stay views of the training net's memory; the test passes and the final display
forward of ``solve()`` run on the pycaffe nets' blobs as well."""
from __future__ import annotations

import functools
import weakref

import numpy as np
import torch

from caffe_compat.net import synced_memory


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

        def _forward_backward(self):
            store = self._owner.net._store
            loss = store.forward()
            store.backward()
            return np.float32(loss)

        def _clear_param_diffs(self):        # in place: views of the diffs stay valid
            with torch.no_grad():
                for p in self._params:
                    if p.grad is not None:
                        p.grad.zero_()
            if self._on_device:
                synced_memory.diffs_zeroed(self._params)

        # On a device (GPU mode) the parameters have host and device copies
        # (caffe_compat.net.synced_memory): the engine's own work on them (the update, a
        # snapshot, a restore) finds their device copies up to date, and what it writes is
        # taken as the current copy after.
        _on_device = False

        def _all_params(self):
            return self._owner.net._torch_store.memory.params()

        def apply_update(self):
            if not self._on_device:
                return super().apply_update()
            synced_memory.params_current(self._params, diffs=True)
            super().apply_update()
            synced_memory.params_written(self._params, diffs=True)

        def snapshot(self):
            if self._on_device:
                synced_memory.params_current(self._all_params(), diffs=True)
            return super().snapshot()

        def restore(self, *args, **kwargs):
            if not self._on_device:
                return super().restore(*args, **kwargs)
            synced_memory.params_current(self._all_params(), diffs=True)
            out = super().restore(*args, **kwargs)
            synced_memory.params_written(self._all_params(), diffs=True)
            return out

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
