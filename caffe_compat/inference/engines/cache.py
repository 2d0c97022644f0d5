"""The ONNX exports the engines run, cached on disk (where, the bound, the listing:
:mod:`caffe_compat.onnx_path.cache_store`).

One folder per export, named by its key: the sha256 of

* the net's definition as run (the phase-filtered NetParameter, serialised deterministically)
  and every parameter blob's name, shape and bytes (weights changed after loading, e.g. by
  ``dnn.Net.setParam``, give another key),
* the outputs asked for, in order, and the input blobs' shapes past the batch axis (the batch
  axis is free),
* :data:`caffe_compat.export.onnx_export.FORMAT_VERSION` and caffe_compat's version.

What is decided about the export (the trust check and the timing,
:mod:`caffe_compat.inference.engines.choose`) is stored beside it
(:class:`~caffe_compat.onnx_path.cache_store.Decisions`), keyed by the engines' versions: one
export serves every engine. Files are written atomically
(:func:`caffe_compat.io.atomic.atomic_path`); an export happens under the entry's lock
(:func:`~caffe_compat.onnx_path.cache_store.locked`), so processes loading the same net at
once export it once.
``model.onnx.json`` records the file's size and sha256: a file that does not match is
exported again."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os

from ...io.atomic import file_sha256, write_text_atomic
from ...onnx_path import cache_store as store
from ...onnx_path.cache_store import cache_root, locked

MODEL = "model.onnx"
RECORD = MODEL + ".json"


def export_key(net, outputs):
    """The hex sha256 keying the export of ``net`` (a test-phase caffe_compat Net) for
    ``outputs`` (see the module doc)."""
    import caffe_compat
    from ...export.onnx_export import FORMAT_VERSION
    h = hashlib.sha256()

    def field(tag, data):
        if isinstance(data, memoryview):
            h.update(tag.encode() + b"\0" + data.nbytes.to_bytes(8, "little"))
            h.update(data)                   # the tensor's memory, not a copy of it
            return
        data = data if isinstance(data, bytes) else str(data).encode()
        h.update(tag.encode() + b"\0" + len(data).to_bytes(8, "little") + data)

    field("exporter", f"{FORMAT_VERSION}/{caffe_compat.__version__}")
    field("definition", net.graph.filtered.SerializeToString(deterministic=True))
    for name, value in net.caffe_state_dict().items():
        t = value.detach().to("cpu").contiguous()
        field("blob", f"{name}:{t.dtype}:{tuple(t.shape)}")
        field("data", memoryview(t.numpy()).cast("B"))
    field("outputs", "\n".join(outputs))
    for name in net.inputs:
        field("input", f"{name}:{tuple(net.blob_shape(name))[1:]}")
    return h.hexdigest()


def _valid(folder):
    """True when ``model.onnx`` matches its record (size, then sha256)."""
    path, record = os.path.join(folder, MODEL), os.path.join(folder, RECORD)
    try:
        with open(record, encoding="utf-8") as f:
            want = json.load(f)
        if os.path.getsize(path) != int(want["size"]):
            return False
        return file_sha256(path) == want["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


class CachedExport(store.Decisions):
    """The export of one net and set of outputs: ``path`` (the ONNX file), ``folder``, ``key``,
    ``exported`` (True when this call wrote it); what is decided about it (trust, timings):
    :class:`caffe_compat.onnx_path.cache_store.Decisions`."""

    def __init__(self, folder, key, exported):
        super().__init__(folder, key)
        self.exported = exported
        self.path = os.path.join(folder, MODEL)


def holds_drawn_weights(net):
    """True when a parameter blob of ``net`` still holds values a filler drew from an
    unseeded stream (a net loaded without weights, :func:`caffe_compat.layers.fillers.is_drawn`):
    the next process draws others, so its export would never be met again."""
    from ...layers.fillers import is_drawn
    return any(is_drawn(v) for v in net.caffe_state_dict().values())


def cached_export(net, outputs, key=None, root=None):
    """The :class:`CachedExport` of ``net`` for ``outputs``: the cached file when it is whole,
    otherwise exported now (once across processes, see the module doc). Where the export goes
    (the cache, its writable fallback, or this process's own folder for drawn weights) and
    the size bound: :mod:`caffe_compat.onnx_path.cache_store`."""
    outputs = list(outputs)
    key = key or export_key(net, outputs)
    if root is None:
        root = cache_root()
        if holds_drawn_weights(net):
            root = store.private_root()
    hit = store.read_only_hit(root, key, _valid)
    if hit is not None:
        return CachedExport(hit, key, False)
    root = store.writable_root(root)
    folder = os.path.join(root, key)
    with locked(root, key):
        if _valid(folder):
            store.touch(folder)
            return CachedExport(folder, key, False)
        _export(net, outputs, folder, key)
    store.evict(root, keep={key})
    return CachedExport(folder, key, True)


def _export(net, outputs, folder, key):
    from ...export.onnx_export import export_onnx
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, MODEL)
    with contextlib.suppress(OSError):
        os.remove(os.path.join(folder, "decisions.json"))   # about the old file
    export_onnx(net, path, outputs=outputs, metadata={"caffe_compat_key": key})
    record = {"size": os.path.getsize(path), "sha256": file_sha256(path), "outputs": outputs,
              "net": net.name, "inputs": {n: list(net.blob_shape(n)) for n in net.inputs}}
    write_text_atomic(os.path.join(folder, RECORD), json.dumps(record, indent=1))
