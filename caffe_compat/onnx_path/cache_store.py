"""The one disk cache of both inference paths: where it lives, how large it may grow, what it
holds, and the decisions stored in it.

* **Entries**: one folder per key (a sha256), holding ``decisions.json`` (:class:`Decisions`:
  trust verdicts, a trial's winner) and a record of what the entry is about: an export of
  ``caffe_compat.Net(engine="auto")`` (``model.onnx`` and its record ``model.onnx.json``,
  :mod:`caffe_compat.inference.engines.cache`), or a torch-free plan's trial winner
  (:data:`RECORD`, no model: :func:`entry`). Writes to an entry happen under an exclusive
  ``fcntl`` lock on ``<key>.lock`` (:func:`locked`).
* **Location**: :func:`cache_root` (``$CAFFE_COMPAT_ENGINE_CACHE``, else
  ``$XDG_CACHE_HOME/caffe_compat/engines``, ``~/.cache`` without XDG_CACHE_HOME). When that
  folder cannot be created or written, :func:`writable_root` warns once
  (:class:`EngineCacheWarning`, naming the folder, the error and the variable) and uses
  ``<tmp>/caffe_compat-<uid>/engines``, else a private folder of this process removed at exit.
  Entries already in a read-only folder are still used (:func:`read_only_hit`); decisions
  that cannot be written there hold for this process.
* **Private exports**: an export no later process can meet again (weights drawn by a filler
  from an unseeded stream) goes to :func:`private_root`, removed at exit, never to the cache.
* **Bound**: the entries take at most :func:`size_bound` bytes
  (``$CAFFE_COMPAT_ENGINE_CACHE_SIZE``, e.g. ``500M``, ``4G``, ``0`` for no bound; default
  :data:`DEFAULT_BOUND`, 2 GiB). After each new entry the least recently used entries (a
  folder's modification time, set at every use) are removed until the rest fit, except an
  entry locked by a process writing it and the entry just written (kept even when alone
  larger than the bound, until the next).
* **Listing and clearing**: :func:`entries`, :func:`clear` (``caffe-compat engine-cache``)."""
from __future__ import annotations

import atexit
import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
import warnings

ENV_CACHE = "CAFFE_COMPAT_ENGINE_CACHE"
ENV_SIZE = "CAFFE_COMPAT_ENGINE_CACHE_SIZE"
DEFAULT_BOUND = 2 << 30            # 2 GiB: the largest public nets (VGG16 + VGG19) fit
RECORD = "entry.json"               # what an entry without an export is about
_RECORDS = ("model.onnx.json", RECORD)
_KEY = re.compile(r"^[0-9a-f]{64}$")
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_checked = {}                      # configured root -> root to write to
_private = []
_held = {}                         # key -> decisions not stored (kept for the process)


def cache_root():
    """The configured cache folder: ``$CAFFE_COMPAT_ENGINE_CACHE`` if set, else
    ``$XDG_CACHE_HOME/caffe_compat/engines`` (``~/.cache/caffe_compat/engines``)."""
    forced = os.environ.get(ENV_CACHE)
    if forced:
        return os.path.abspath(os.path.expanduser(forced))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "caffe_compat", "engines")


class EngineCacheWarning(RuntimeWarning):
    """The engine cache folder is not usable as configured; another folder is used."""


def size_bound():
    """The bound in bytes from ``$CAFFE_COMPAT_ENGINE_CACHE_SIZE`` (None: no bound); a
    ValueError naming the variable for a value that is not a size."""
    text = os.environ.get(ENV_SIZE, "").strip()
    if not text:
        return DEFAULT_BOUND
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", text.upper())
    if m is None:
        raise ValueError(f"{ENV_SIZE}={text!r} is not a size; give bytes or a number with K, M, "
                         "G or T (e.g. 500M, 4G), or 0 for no bound")
    value = int(float(m.group(1)) * _UNITS[m.group(2)])
    return value or None


def private_root():
    """A folder of this process for exports no other process will use; removed at exit."""
    if not _private:
        _private.append(tempfile.mkdtemp(prefix="caffe_compat-engines-"))
        atexit.register(shutil.rmtree, _private[0], True)
    return _private[0]


def _probe(folder):
    """Raise OSError unless files can be created in ``folder`` (made if missing)."""
    os.makedirs(folder, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=".probe-", dir=folder)
    os.close(fd)
    os.remove(path)


def writable_root(root):
    """``root`` when it is writable, else the fallback (warned once per root; module doc)."""
    got = _checked.get(root)
    if got is not None:
        return got
    try:
        _probe(root)
        got = root
    except OSError as e:
        why = e.strerror or errno.errorcode.get(e.errno, str(e))
        fallback = os.path.join(tempfile.gettempdir(), f"caffe_compat-{os.getuid()}", "engines")
        try:
            _probe(fallback)
            got, lasts = fallback, "are kept there across runs"
        except OSError:
            got, lasts = private_root(), "last until this process exits"
        warnings.warn(f"engine cache folder '{root}' is not writable ({why}); the cache's "
                      f"entries go to '{got}' instead and {lasts}: set {ENV_CACHE} to a "
                      "writable folder to keep them", EngineCacheWarning, stacklevel=4)
    _checked[root] = got
    return got


def read_only_hit(root, key, valid):
    """The folder of entry ``key`` in a root that is not writable, when it is whole
    (``valid(folder)``), else None."""
    if writable_root(root) == root:
        return None
    folder = os.path.join(root, key)
    return folder if valid(folder) else None


def touch(folder):
    """Mark entry ``folder`` as used now (its modification time orders the eviction)."""
    with contextlib.suppress(OSError):
        os.utime(folder)


def _folder_size(folder):
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total


def entries(root):
    """The entries of the cache at ``root``, least recently used first: dicts with ``key``,
    ``folder``, ``bytes``, ``used`` (seconds since the epoch) and what the record says
    (``net``, ``outputs``, ``inputs``)."""
    out = []
    try:
        names = os.listdir(root)
    except OSError:
        return out
    for name in names:
        folder = os.path.join(root, name)
        if not _KEY.match(name) or not os.path.isdir(folder):
            continue
        info = {"key": name, "folder": folder, "bytes": _folder_size(folder)}
        try:
            info["used"] = os.stat(folder).st_mtime
        except OSError:
            continue
        for name in _RECORDS:
            with contextlib.suppress(OSError, ValueError):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    record = json.load(f)
                info.update((k, record[k]) for k in ("net", "outputs", "inputs") if k in record)
                break
        out.append(info)
    out.sort(key=lambda e: e["used"])
    return out


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


class Decisions:
    """The decisions stored in entry ``folder`` (named ``key``): one JSON file, read, merged
    and written under the entry's lock; ``about`` (the record of an entry without an export,
    :data:`RECORD`) is written beside it with the first decision. A decision the folder
    does not take (a read-only cache) holds for this process."""

    def __init__(self, folder, key, about=None):
        self.folder, self.key, self._about = folder, key, about

    def _path(self):
        return os.path.join(self.folder, "decisions.json")

    def decisions(self):
        try:
            with open(self._path(), encoding="utf-8") as f:
                out = json.load(f)
            out = out if isinstance(out, dict) else {}
        except (OSError, ValueError):
            out = {}
        return {**_held.get(self.key, {}), **out}

    def record(self, name, value):
        """Store ``{name: value}``."""
        from ..io.atomic import write_text_atomic
        try:
            with locked(os.path.dirname(self.folder), self.key):
                out = self.decisions()
                out[name] = value
                if self._about is not None:
                    os.makedirs(self.folder, exist_ok=True)
                    write_text_atomic(os.path.join(self.folder, RECORD),
                                      json.dumps(self._about, indent=1))
                write_text_atomic(self._path(), json.dumps(out, indent=1, sort_keys=True))
        except OSError:         # a read-only cache: the decision holds for this process only
            _held.setdefault(self.key, {})[name] = value
            return
        if self._about is not None:
            evict(os.path.dirname(self.folder), keep={self.key})


def entry(key, about):
    """The :class:`Decisions` of entry ``key`` that holds no export (``about``: its record),
    in the configured cache, or in its writable fallback where the configured folder is not
    writable and holds no such entry."""
    root = cache_root()
    hit = read_only_hit(root, key, lambda f: os.path.isfile(os.path.join(f, "decisions.json")))
    folder = hit or os.path.join(writable_root(root), key)
    touch(folder)                       # (a use: the eviction's order)
    return Decisions(folder, key, about)


@contextlib.contextmanager
def _try_lock(root, key):
    """Yield True with the entry's lock held when nobody holds it, else False."""
    import fcntl
    path = os.path.join(root, key + ".lock")
    try:
        f = open(path, "a+b")
    except OSError:
        yield False
        return
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def remove_entry(root, key):
    """Remove entry ``key`` (folder and lock file) unless a process holds its lock; True when
    removed."""
    with _try_lock(root, key) as held:
        if not held:
            return False
        shutil.rmtree(os.path.join(root, key), ignore_errors=True)
        with contextlib.suppress(OSError):
            os.remove(os.path.join(root, key + ".lock"))
        return not os.path.exists(os.path.join(root, key))


def evict(root, keep=(), bound=None):
    """Remove least recently used entries of ``root`` until the rest take at most ``bound``
    bytes (default :func:`size_bound`); entries in ``keep`` stay. Returns the keys removed."""
    bound = size_bound() if bound is None else bound
    if not bound:
        return []
    listed = entries(root)
    total = sum(e["bytes"] for e in listed)
    removed = []
    for e in listed:
        if total <= bound:
            break
        if e["key"] in keep:
            continue
        if remove_entry(root, e["key"]):
            total -= e["bytes"]
            removed.append(e["key"])
    _remove_stale_files(root)
    return removed


def _remove_stale_files(root, age_s=3600.0):
    """Lock files an hour old whose entry is gone (evicted, or never written)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            path = os.path.join(root, name)
            stale = name.endswith(".lock") and not os.path.isdir(path[:-5]) \
                and _KEY.match(name[:-5])
            if stale:
                with contextlib.suppress(OSError):
                    if now - os.stat(path).st_mtime > age_s:
                        remove_entry(root, name[:-5])


def clear(root):
    """Remove every entry of ``root`` that no process is exporting: (entries removed, bytes
    freed, entries left)."""
    removed, freed, left = 0, 0, 0
    for e in entries(root):
        if remove_entry(root, e["key"]):
            removed, freed = removed + 1, freed + e["bytes"]
        else:
            left += 1
    return removed, freed, left
