"""The host and device copies of parameters (data and diff), kept on the parameter objects
(``synced_memory``), so that a parameter shared between nets has one record; the rule is
Caffe's SyncedMemory, as :mod:`caffe_compat.net.synced_memory` states it."""
from __future__ import annotations

import contextlib

import torch

from .synced import DEVICE, HOST, SYNCED, Synced


class ParamMemory:
    """The records of one parameter: its data and its diff (the gradient)."""

    __slots__ = ("data", "diff")

    def __init__(self, data, diff):
        self.data = data
        self.diff = diff


def param_record(p, name="param"):
    """The record of parameter ``p`` (made with both heads at ``DEVICE`` if it has none)."""
    rec = getattr(p, "synced_memory", None)
    if rec is None:
        rec = ParamMemory(Synced(None, DEVICE, f"{name}.data"),
                          Synced(None, DEVICE, f"{name}.diff"))
        p.synced_memory = rec
    return rec


def param_host_data(p):
    """Parameter ``p``'s data as Python holds it (``p`` on a device): a numpy array of its host
    copy, current, recorded as held."""
    rec = p.synced_memory.data
    return rec.hand_out(rec.host_mutable(p.detach()).numpy())


def param_host_diff(p):
    """Parameter ``p``'s diff as Python holds it (a numpy array of its host copy, recorded)."""
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    rec = p.synced_memory.diff
    return rec.hand_out(rec.host_mutable(p.grad).numpy())


def _records(params):
    """``(parameter, record)`` of each of ``params`` that has host and device copies."""
    for p in params:
        rec = getattr(p, "synced_memory", None)
        if rec is not None:
            yield p, rec


def _held(params):
    """``(record, tensor)`` of each data and diff of ``params`` that Python holds arrays of."""
    for p, rec in _records(params):
        if rec.data.views:
            yield rec.data, p.detach()
        if rec.diff.views and p.grad is not None:
            yield rec.diff, p.grad


def params_from_python(params):
    """Before the engine runs: the parameters (data and diff) Python holds arrays of count as
    written by Python (:meth:`Synced.from_python`)."""
    for rec, tensor in _held(params):
        rec.from_python(tensor)


def params_to_python(params):
    """After the engine ran: the parameters Python holds arrays of are copied down where the
    engine wrote them (:meth:`Synced.to_python`)."""
    for rec, tensor in _held(params):
        rec.to_python(tensor)


@contextlib.contextmanager
def engine_on_params(params, writes=False, diffs=False, python=True):
    """Around the engine's own work on ``params`` outside a pass (an update, a save, a weights
    file read, a restore, a broadcast): the arrays Python holds count as written (unless no
    Python ran since the engine's last run: ``python=False``) and the device copies (data and
    diffs) are brought up to date first; where the engine ``writes`` the data (and the
    ``diffs``), its copies are the current ones after, and the arrays Python holds of them are
    copied down."""
    params = list(params)
    if python:
        params_from_python(params)
    params_current(params, diffs=True)
    yield
    if writes:
        params_written(params, diffs=diffs)
        params_to_python(params)


def params_current(params, diffs=False):
    """Bring the device copies of ``params`` (and their diffs) up to date."""
    for p, rec in _records(params):
        rec.data.device_current(p.detach())
        if diffs and rec.diff.head == HOST:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            rec.diff.device_current(p.grad)


def params_written(params, diffs=False):
    """The engine wrote ``params`` (and their diffs): their device copies are the current ones."""
    for _, rec in _records(params):
        rec.data.device_written()
        if diffs:
            rec.diff.device_written()


def diffs_zeroed(params):
    """The engine zeroed the diffs of ``params`` on the device: their host copies are zeroed
    too (no copy), so arrays Python holds read the zeros, as they do on the CPU."""
    for p, rec in _records(params):
        if p.grad is None:
            continue
        host = rec.diff.host
        if host is not None and host.shape == p.grad.shape:
            host.zero_()
            rec.diff.head = SYNCED
        else:
            rec.diff.head = DEVICE


def diffs_written(params):
    """The engine wrote the diffs of ``params``."""
    for _, rec in _records(params):
        rec.diff.device_written()


def _unique(tensors):
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out
