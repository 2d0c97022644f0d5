"""The ONNX exports the engines run, cached on disk.

Where: ``$CAFFE_COMPAT_ENGINE_CACHE`` if set, else ``$XDG_CACHE_HOME/caffe_compat/engines``
(``~/.cache/caffe_compat/engines`` without XDG_CACHE_HOME). One folder per export, named by
its key: the sha256 of

* the net's definition as run (the phase-filtered NetParameter, serialised deterministically)
  and every parameter blob's name, shape and bytes (what the prototxt and caffemodel give;
  weights changed after loading, e.g. by ``dnn.Net.setParam``, give another key),
* the outputs asked for, in order, and the input blobs' shapes past the batch axis (the export
  keeps the deploy geometry; the batch axis is free),
* :data:`caffe_compat.export.onnx_export.FORMAT_VERSION` and caffe_compat's version.

The engines' versions key what is decided about the export (the trust check and the timing,
:mod:`caffe_compat.inference.engines.choose`), stored beside it: one export serves every engine.

Files are written atomically (:func:`caffe_compat.io.atomic.atomic_path`); an export happens
under an exclusive ``fcntl`` lock on ``<key>.lock``, so processes that load the same net at
once export it once and the others wait for it. ``model.onnx.json`` records the file's size
and sha256: a file that does not match (truncated, damaged, or left without its record) is
exported again.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os

from ...io.atomic import write_text_atomic

ENV_CACHE = "CAFFE_COMPAT_ENGINE_CACHE"
MODEL = "model.onnx"
RECORD = MODEL + ".json"
_CHUNK = 1 << 20


def cache_root():
    """The cache folder (see the module doc)."""
    forced = os.environ.get(ENV_CACHE)
    if forced:
        return os.path.abspath(os.path.expanduser(forced))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "caffe_compat", "engines")


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


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def locked(folder, key):
    """An exclusive lock on ``<folder>/<key>.lock`` (held until the block ends)."""
    import fcntl
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, key + ".lock"), "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


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


class CachedExport:
    """The export of one net and set of outputs: ``path`` (the ONNX file), ``folder``, ``key``,
    ``exported`` (True when this call wrote it)."""

    def __init__(self, folder, key, exported):
        self.folder, self.key, self.exported = folder, key, exported
        self.path = os.path.join(folder, MODEL)

    # decisions about the export (trust, timings), one JSON file beside it
    def _decisions_path(self):
        return os.path.join(self.folder, "decisions.json")

    def decisions(self):
        try:
            with open(self._decisions_path(), encoding="utf-8") as f:
                out = json.load(f)
            return out if isinstance(out, dict) else {}
        except (OSError, ValueError):
            return {}

    def record(self, key, value):
        """Store ``{key: value}`` in the decisions file (read, merged and written under the
        export's lock)."""
        with locked(os.path.dirname(self.folder), self.key):
            out = self.decisions()
            out[key] = value
            write_text_atomic(self._decisions_path(), json.dumps(out, indent=1, sort_keys=True))


def cached_export(net, outputs, key=None, root=None):
    """The :class:`CachedExport` of ``net`` for ``outputs``: the cached file when it is whole,
    otherwise exported now (once across processes, see the module doc)."""
    from ...export.onnx_export import export_onnx
    outputs = list(outputs)
    key = key or export_key(net, outputs)
    root = root or cache_root()
    folder = os.path.join(root, key)
    with locked(root, key):
        if _valid(folder):
            return CachedExport(folder, key, False)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, MODEL)
        with contextlib.suppress(OSError):
            os.remove(os.path.join(folder, "decisions.json"))   # about the old file
        export_onnx(net, path, outputs=outputs, metadata={"caffe_compat_key": key})
        record = {"size": os.path.getsize(path), "sha256": file_sha256(path),
                  "outputs": outputs}
        write_text_atomic(os.path.join(folder, RECORD), json.dumps(record, indent=1))
        return CachedExport(folder, key, True)
