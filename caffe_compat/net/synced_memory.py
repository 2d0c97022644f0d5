"""The memory of a net on a device as Caffe's SyncedMemory keeps it: every blob and parameter
(data and diff) has a host copy, the one Python reads and writes, and a device copy, the one
the engine computes with; a ``head`` says which is current (Caffe's rule):

- ``HOST``: Python may have written the host copy; the device copy is stale.
- ``DEVICE``: the engine has written the device copy; the host copy is stale.
- ``SYNCED``: both copies hold the same values.

Handing out a host view (pycaffe's ``.data`` / ``.diff``, a Python layer's blobs,
``params[layer][i].data``) brings the host copy up to date and moves the head to ``HOST``
(Caffe's ``mutable_cpu_data()``: Python may write into it). Each view is a new numpy array
recorded by a weak reference (:meth:`Synced.hand_out`); while it (or an array derived from
it) lives, Python holds the blob.

Beyond Caffe, whose arrays taken before a pass go stale, a held view is current whenever
Python can read it, so a CPU-mode program gives the same values in GPU mode. Around each
engine run (:meth:`NetMemory.engine_run`: a forward, a backward, a solver's iteration, a test
pass; :func:`engine_on_params` for work on the parameters alone: an update, a save, a weights
read, a restore, a broadcast): before it, every blob and parameter with a live view is marked
``HOST``; the layers' reads copy up what is ``HOST`` (not a blob the range writes before
reading it) and mark what they write ``DEVICE``; after it, every held one the engine wrote is
copied down. A dead view costs nothing. Arrays handed out before the net had two copies (CPU
mode keeps no records) are pinned as held (:data:`PINNED`).

:class:`NetMemory` holds the records of a :class:`~caffe_compat.net.stepwise.Stepwise` (its
``memory``; None on the CPU, which has one copy). Parameter records live on the parameters
(``synced_memory``), so a parameter shared between nets has one record. The device may be
``"cpu"`` (a second CPU tensor, to test the rule without a GPU; pycaffe's stand-in:
``CAFFE_COMPAT_DEVICE_STANDIN=1``). :data:`COPIES` counts the copies made each way."""
from __future__ import annotations

import contextlib
import weakref

import torch

from .param_memory import (ParamMemory, _unique, diffs_written, diffs_zeroed, param_record,
                           params_current, params_from_python, params_to_python,
                           params_written)
from .synced import DEVICE, HOST, Synced


class NetMemory:
    """The host and device copies of one net's blobs and parameters (see the module doc)."""

    def __init__(self, store, device):
        # the store holds this object: held weakly back, so that no cycle keeps the net (and
        # its open databases) alive until the collector runs
        self._store = weakref.ref(store)
        self.device = torch.device(device)
        self.data = {}               # blob name -> Synced (absent: head DEVICE, no host copy)
        self.diff = {}
        self.held = {}               # ("data" | "diff", blob name) -> Synced handed to Python
        self._reads = {}             # (start, end) -> (blobs read first, blobs written)
        self._back = {}              # (start, end) -> (diffs read first, diffs written)
        self._depth = 0              # engine runs under way (nested: a replayed layer)

    @property
    def store(self):
        return self._store()

    # ------------------------------------------------------------------ records
    def host_data(self, name):
        """Blob ``name``'s data as Python holds it: a numpy array of its host copy (current;
        head ``HOST``), recorded as held until it dies."""
        return self._hand_out("data", name)

    def host_diff(self, name):
        """Blob ``name``'s diff as Python holds it (as :meth:`host_data`)."""
        return self._hand_out("diff", name)

    def _hand_out(self, kind, name):
        table = self._table(kind)
        rec = table.get(name)
        if rec is None:
            rec = table[name] = Synced(None, DEVICE, f"{name}.{kind}")
        array = rec.host_mutable(self._device_of(kind, name)).numpy()
        self.held[(kind, name)] = rec
        return rec.hand_out(array)

    def _table(self, kind):
        return self.data if kind == "data" else self.diff

    def _device_of(self, kind, name):
        return self.store.data[name] if kind == "data" else self.store.diff_of(name)

    def _held_records(self):
        """``(kind, name, record)`` of the blobs Python holds arrays of now (records whose
        arrays all died, or that a reshape replaced, are forgotten here)."""
        out = []
        for key, rec in list(self.held.items()):
            kind, name = key
            if not rec.views or self._table(kind).get(name) is not rec:
                del self.held[key]
                continue
            out.append((kind, name, rec))
        return out

    def from_python(self):
        """Before the engine runs: every blob and parameter Python holds arrays of counts as
        written by Python (head ``HOST``: copied up where the layers read it before writing)."""
        for kind, name, rec in self._held_records():
            rec.from_python(self._device_of(kind, name))
        params_from_python(self.params())

    def to_python(self):
        """After the engine ran: every blob and parameter Python holds arrays of that the
        engine wrote is copied down, so that the arrays read the values of the run."""
        for kind, name, rec in self._held_records():
            if rec.head == DEVICE:          # (no device tensor looked up, or made, otherwise)
                rec.to_python(self._device_of(kind, name))
        params_to_python(self.params())

    @contextlib.contextmanager
    def engine_run(self):
        """One run of the engine between two moments Python may touch the arrays it holds
        (a forward, a backward, a solver's forward and backward, a test pass): the arrays
        Python holds count as written before it, and are brought up to date after it
        (:meth:`from_python`, :meth:`to_python`). Runs inside it do neither."""
        self.begin_run()
        try:
            yield
        finally:
            self.end_run()

    def begin_run(self):
        """The start of an engine run (:meth:`engine_run`); runs nest."""
        if self._depth == 0:
            self.from_python()
        self._depth += 1

    def end_run(self):
        """The end of an engine run begun by :meth:`begin_run`; the outermost brings the
        arrays Python holds up to date (also after a run that failed: what the engine wrote
        before the error is what the CPU's arrays hold then)."""
        self._depth -= 1
        if self._depth == 0:
            self.to_python()

    def params(self):
        """Every parameter of the net (each once)."""
        net = self.store.net
        return _unique(p for _, key, _, _ in self.store.nodes for p in net.layers[key].blobs)

    def data_current(self, names):
        """Bring the device copies of blobs ``names`` up to date."""
        data = self.data
        for name in names:
            rec = data.get(name)
            if rec is not None and rec.head == HOST:
                rec.device_current(self.store.data[name])

    def before_reshape(self, name):
        """Before blob ``name`` takes another shape: its device copies hold what Python wrote
        (a reshape keeps the values: Caffe's Blob::Reshape)."""
        for kind in ("data", "diff"):
            rec = self._table(kind).get(name)
            if rec is not None and rec.host is not None:
                device = self._device_of(kind, name)
                rec.from_python(device)
                rec.device_current(device)

    def reshape(self, name):
        """Blob ``name`` got new device storage (zeros): its host copies go, and the next one
        made for Python starts from that storage."""
        self.data.pop(name, None)
        self.diff.pop(name, None)

    # ------------------------------------------------------------------ passes
    def _segments(self, start, end):
        """The layer ranges of ``start``..``end`` (ascending) as ``(a, b, python)``: runs of
        engine layers and each Python layer on its own (it works on the host copies)."""
        out = []
        steps = self.store.steps
        a = start
        for i in range(start, end + 1):
            if steps[i][1]:
                if a < i:
                    out.append((a, i - 1, False))
                out.append((i, i, True))
                a = i + 1
        if a <= end:
            out.append((a, end, False))
        return out

    def _forward_sets(self, a, b):
        key = (a, b)
        sets = self._reads.get(key)
        if sets is None:
            nodes, fixed = self.store.nodes, self.store.fixed
            produced, reads, writes = set(), [], []
            for i in range(a, b + 1):
                node = nodes[i][0]
                if node.type == "Input":
                    continue
                reads.extend(n for n in node.bottoms if n not in produced)
                kept = fixed.get(i, ())
                for j, name in enumerate(node.tops):
                    if j in kept:
                        reads.append(name)
                    else:
                        produced.add(name)
                        writes.append(name)
            sets = self._reads[key] = (_unique(reads), _unique(writes))
        return sets

    def forward(self, start, end):
        """Stepwise's forward of ``start``..``end`` with the copies brought up to date around
        each run of engine layers (one :meth:`engine_run`); returns the loss."""
        with self.engine_run():
            return self._forward(start, end)

    def _forward(self, start, end):
        store = self.store
        params_current(self.params())
        loss = 0.0
        for a, b, python in self._segments(start, end):
            if python:
                loss += store._forward(a, b)
                continue
            reads, writes = self._forward_sets(a, b)
            self.data_current(reads)
            loss += store._forward(a, b)
            data = self.data
            for name in writes:
                rec = data.get(name)
                if rec is not None:
                    rec.head = DEVICE
            for i in range(a, b + 1):
                module = store.steps[i][0]
                if module.forward_writes_blobs:
                    params_written(module.blobs)
        return loss

    def _backward_sets(self, hi, lo):
        key = (hi, lo)
        sets = self._back.get(key)
        if sets is None:
            store = self.store
            written, reads, writes, touched = set(), [], [], []
            for i in range(hi, lo - 1, -1):
                if not store.layer_need[i]:
                    continue
                node = store.nodes[i][0]
                touched.extend(node.bottoms)
                touched.extend(node.tops)
                reads.extend(n for n in node.tops if n not in written)
                for name, need in zip(node.bottoms, store.bottom_need[i]):
                    if need:
                        written.add(name)
                        writes.append(name)
            sets = self._back[key] = (_unique(reads), _unique(writes), _unique(touched))
        return sets

    def backward(self, start, end):
        """Stepwise's backward of ``start`` down to ``end``, the copies brought up to date
        around each run of engine layers (one :meth:`engine_run`)."""
        with self.engine_run():
            self._backward(start, end)

    def _backward(self, start, end):
        store = self.store
        params_current(self.params(), diffs=True)
        for a, b, python in reversed(self._segments(end, start)):
            if python:
                store._backward(b, a)
                continue
            reads, writes, touched = self._backward_sets(b, a)
            self.data_current(touched)            # a layer's graph may be rebuilt from them
            diff = self.diff
            for name in reads:
                rec = diff.get(name)
                if rec is not None and rec.head == HOST:
                    rec.device_current(store.diff_of(name))
            store._backward(b, a)
            for name in writes:
                rec = diff.get(name)
                if rec is not None:
                    rec.head = DEVICE
            for i in range(a, b + 1):
                if store.layer_need[i]:
                    diffs_written(p for p, need in zip(store.steps[i][0].blobs,
                                                       store.param_need[i]) if need)

    def clear_param_diffs(self):
        """The engine zeroed every learnable parameter's diff on the device."""
        diffs_zeroed(e.param for e in self.store.net.learnable)


# ---------------------------------------------------------------------- placing a net
def attach(store, device, existing):
    """Give ``store`` (a Stepwise) host and device copies on ``device``. ``existing``:
    ``"host"`` when its tensors now are the host copies (a net made on the CPU going to the
    device: they stay the memory of the arrays Python holds; the parameters are copied up
    now, the blobs when the layers read them, head ``HOST``), ``"device"`` when they are the
    device copies (a net built on the device; host copies are made when Python first asks,
    head ``DEVICE``)."""
    memory = NetMemory(store, device)
    net = store.net
    if existing == "host":
        dev = memory.device
        with torch.no_grad():
            for p in memory.params():
                if getattr(p, "synced_memory", None) is not None:
                    continue                 # shared with a net placed before
                host = p.detach()
                grad = p.grad
                p.data = torch.empty_like(host, device=dev)
                what = f"{_param_name(store, p)}"
                rec = ParamMemory(Synced(host, HOST, f"{what}.data"),
                                  Synced(None, DEVICE, f"{what}.diff"))
                if grad is not None:
                    p.grad = torch.empty_like(grad, device=dev)
                    rec.diff = Synced(grad, HOST, f"{what}.diff")
                    rec.diff.device_current(p.grad)
                # copied up now: every pass reads them, and the engine's tensors never hold
                # uninitialized memory (whatever reads them, a save, a state dict)
                rec.data.device_current(p.detach())
                if getattr(p, "_numpy_views", 0):    # arrays of it were handed out before
                    rec.data.pin()
                    if grad is not None:
                        rec.diff.pin()
                p.synced_memory = rec
            net.to(dev)                      # the buffers that are not parameters
            for table, tensors, what in ((memory.data, store.data, "data"),
                                         (memory.diff, store.diff, "diff")):
                shared = {}                  # host storage -> (device tensor, record)
                for name in list(tensors.keys()) + list(getattr(tensors, "parts", ())):
                    host = tensors[name].contiguous()
                    key = (host.data_ptr(), tuple(host.shape)) if host.numel() else None
                    if key is not None and key in shared:    # a Split's tops: one memory
                        tensors[name], table[name] = shared[key]
                        continue
                    dev_t = torch.empty_like(host, device=dev)
                    tensors[name] = dev_t
                    table[name] = Synced(host, HOST, f"{name}.{what}")
                    if key is not None:
                        shared[key] = (dev_t, table[name])
            for name in store.exported:      # arrays of them were handed out before
                for kind, table in (("data", memory.data), ("diff", memory.diff)):
                    rec = table.get(name)
                    if rec is not None:
                        rec.pin()
                        memory.held[(kind, name)] = rec
    else:
        for p in memory.params():
            param_record(p, _param_name(store, p))
    store.memory = memory
    _forget_engine_state(store)
    return memory


def detach(store):
    """Back to one copy on the CPU: the host copies, brought up to date, become the engine's
    tensors (arrays Python holds stay the net's memory)."""
    memory = store.memory
    if memory is None:
        return
    with torch.no_grad():
        for p in memory.params():
            rec = getattr(p, "synced_memory", None)
            if rec is None:
                p.data = p.detach().to("cpu")
                if p.grad is not None:
                    p.grad = p.grad.to("cpu")
                continue
            host = rec.data.host_current(p.detach())
            grad = rec.diff.host_current(p.grad) if p.grad is not None else None
            p.data = host
            if grad is not None:
                p.grad = grad
            del p.synced_memory
        held = set()                         # blobs Python holds arrays of: kept as they are
        for table, tensors in ((memory.data, store.data), (memory.diff, store.diff)):
            for name in list(tensors.keys()) + list(getattr(tensors, "parts", ())):
                rec = table.get(name)
                dev_t = tensors[name]
                tensors[name] = rec.host_current(dev_t) if rec is not None else dev_t.to("cpu")
                if rec is not None and rec.views:
                    held.add(name)
        store.net.to("cpu")
    store.memory = None
    _forget_engine_state(store)
    store.exported.update(held)


def _forget_engine_state(store):
    """Drop what the engine kept for the tensors it had (graphs, fused forms, views)."""
    store._saved = {}
    store._fused = {}
    store._layout = {}
    store._plan_forward = False
    if store.memory is not None:
        store.exported.clear()


def _param_name(store, p):
    for node, key, _, _ in store.nodes:
        for k, q in enumerate(store.net.layers[key].blobs):
            if q is p:
                return f"{node.name}[{k}]"
    return "param"
