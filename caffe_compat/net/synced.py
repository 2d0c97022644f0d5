"""One tensor's host copy and head, Caffe's SyncedMemory (``HOST``, ``DEVICE``, ``SYNCED``),
and the count of the copies made each way (:data:`COPIES`). The rule for a whole net, its
blobs and the arrays Python holds: :mod:`caffe_compat.net.synced_memory`; for parameters:
:mod:`caffe_compat.net.param_memory`."""
from __future__ import annotations

import weakref

import torch

HOST, DEVICE, SYNCED = "host", "device", "synced"


class Copies:
    """The copies between host and device copies: ``up`` (host to device), ``down`` (device to
    host) and ``log``, the ``(direction, what)`` of each, in order."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.up = 0
        self.down = 0
        self.log = []

    def count(self, direction, what):
        if direction == "up":
            self.up += 1
        else:
            self.down += 1
        self.log.append((direction, what))


COPIES = Copies()


class _Pinned:
    """Stands for arrays handed out before the net had host and device copies (in CPU mode):
    they were not recorded, so they count as held for as long as the record lives."""


PINNED = _Pinned()


def _view_dropped(record_ref):
    """The callback of the weak reference to one handed-out array: forgets it when it dies.
    It holds its record weakly, so no reference cycle keeps a record (and its host copy)."""
    def dropped(ref):
        record = record_ref()
        if record is not None and record.views is not None:
            record.views.pop(id(ref), None)
    return dropped


class Synced:
    """One tensor's host copy and head (Caffe's SyncedMemory); the device copy is the engine's
    tensor, passed to each call (the engine may replace it by one of another shape).

    ``views``: the numpy arrays of the host copy that Python holds now (weak references, keyed
    by their id; each goes when its array dies), or None: Python holds none."""

    __slots__ = ("host", "head", "what", "views", "__weakref__")

    def __init__(self, host, head, what):
        self.host = host
        self.head = head
        self.what = what
        self.views = None

    # ------------------------------------------------------------------ arrays Python holds
    def hand_out(self, array):
        """Record ``array``, a numpy view of the host copy just handed to Python (a fresh
        object: every view derived from it keeps it alive, so it dies when Python drops the
        last of them); returns it."""
        views = self.views
        if views is None:
            views = self.views = {}
        ref = weakref.ref(array, _view_dropped(weakref.ref(self)))
        views[id(ref)] = ref
        return array

    def pin(self):
        """Arrays of this host copy were handed out without being recorded: held for good."""
        if self.views is None:
            self.views = {}
        self.views[id(PINNED)] = PINNED

    def from_python(self, device):
        """Before the engine runs: a host copy Python holds arrays of may have been written
        through them, so its head moves to ``HOST`` (its device copy is brought up to date
        where the engine reads it before writing it)."""
        if self.views:
            if self.head == DEVICE:       # (kept current after each run; never stale here)
                self.host_current(device)
            self.head = HOST

    def to_python(self, device):
        """After the engine ran: a host copy Python holds arrays of is brought up to date
        (copied down) where the engine wrote the device copy, so the arrays read its values."""
        if self.views and self.head == DEVICE:
            self.host_current(device)

    def host_current(self, device):
        """The host copy with the values of ``device`` (copied down when the head is
        ``DEVICE``, or when the engine gave the tensor a new shape)."""
        host = self.host
        if host is None or host.shape != device.shape or host.dtype != device.dtype:
            # no host copy yet, or the engine gave the tensor a new shape: its values win; the
            # arrays of the old copy no longer alias the blob (Caffe's Reshape, as on the CPU)
            self.host = host = torch.empty(device.shape, dtype=device.dtype, device="cpu")
            self.head = DEVICE
            self.views = None
        if self.head == DEVICE:
            with torch.no_grad():
                host.copy_(device)
            COPIES.count("down", self.what)
            self.head = SYNCED
        return host

    def host_mutable(self, device):
        """The host copy, current, handed to Python: the head moves to ``HOST``."""
        host = self.host_current(device)
        self.head = HOST
        return host

    def device_current(self, device):
        """Bring ``device`` up to date (copied up when the head is ``HOST``)."""
        if self.head != HOST:
            return
        host = self.host
        if host.shape != device.shape:     # the engine reshaped it since: its values win
            self.head = DEVICE
            return
        with torch.no_grad():
            device.copy_(host)
        COPIES.count("up", self.what)
        self.head = SYNCED

    def device_written(self):
        self.head = DEVICE
