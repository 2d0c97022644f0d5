"""Where a pycaffe ``caffe.Net``'s memory lives for Caffe's mode: one copy on the CPU, or, in GPU
mode, host and device copies kept by Caffe's SyncedMemory rule
(:mod:`caffe_compat.net.synced_memory`).

A net runs in the mode current when it runs (``Caffe::mode()`` is read by each Forward and
Backward), so ``caffe.set_mode_gpu()`` puts a net on the device at its next pass:
:func:`follow_mode`, called by ``caffe.Net`` before its passes when the mode has changed. The
net's tensors become the host copies, so arrays Python took stay the net's memory; back in
CPU mode the host copies, brought up to date, are its one copy again. A solver's nets move
with their solver (``caffe._solver``)."""
from __future__ import annotations

import contextlib

from caffe_compat.errors import NetError

from . import _mode


def follow_mode(net, by_solver=False):
    """Place ``net``'s memory for the mode current now (nothing when it already is)."""
    mode = _mode._state["mode"]
    if mode == net._placed:
        return
    if net._solver_net and not by_solver:
        raise NetError(f"this net belongs to a solver last run in {net._placed.upper()} "
                       f"mode and the mode is {mode.upper()} now: a solver's nets follow the "
                       f"mode with their solver (its next step, solve, snapshot, restore or "
                       f"apply_update); call one of those first, or "
                       f"caffe.set_mode_{net._placed}()")
    from caffe_compat.net import synced_memory
    if mode == "gpu":
        device = _mode.device()                  # no usable device: an error here
        if net._arrays is not None:
            net._to_torch()
        synced_memory.attach(net._torch_store, device, existing="host")
    else:
        synced_memory.detach(net._torch_store)
    net._placed = mode


@contextlib.contextmanager
def params_on_engine(net, writes):
    """Around an engine reading ``net``'s parameters (``save``) or writing them
    (``copy_from``): on a device, their device copies brought up to date first and, where it
    ``writes``, taken as the current ones after."""
    memory = net._torch_store.memory if net._arrays is None else None
    if memory is None:
        yield
        return
    from caffe_compat.net import param_memory
    with param_memory.engine_on_params(memory.params(), writes=writes):
        yield
