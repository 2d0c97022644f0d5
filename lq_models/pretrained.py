"""Published weights the project's nets start from: zoo.json's ``published`` section.

Each entry names files other people publish (a caffemodel, its deploy prototxt, a mean file,
or an archive holding them), the URLs they are served from and the checksums their publisher,
or a well-known download script, gives for them, with where each checksum comes from
(``checksum_from``). The algorithm is the one published: SHA-1 for He et al.'s ResNet-50 files
(OpenCV's and MXNet's download scripts give SHA-1 only); SHA-256, SHA-1 and MD5 are all
understood. No checksum is ever made up: a file without a published one (VGGFace2's archives)
is only accepted against a checksum the user gives.

:func:`fetch` downloads a file (each URL in turn, or copies a local file the user downloaded),
checks it against every checksum known for it, and only then puts it in place; an archive's
members are unpacked from the checked archive. What a file was checked against is written to
``checksums.json`` beside it, and :func:`local_path` checks the file again before handing it
out, so a damaged or replaced file is never used.

The files go to ``$RLQ_WEIGHTS_DIR/<key>/`` if set, else ``$XDG_CACHE_HOME/robust-lq-emotion/
weights/<key>/`` (``~/.cache`` without XDG_CACHE_HOME).
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import tarfile
from dataclasses import dataclass

from caffe_compat.io.atomic import atomic_path, write_text_atomic

from .zoo import ZOO_FILE, ZooError, _zoo_data

__all__ = ["ALGORITHMS", "PublishedFile", "PublishedModel", "published", "get_published",
           "weights_dir", "file_digest", "verify", "fetch", "local_path", "ENV_DIR"]

ENV_DIR = "RLQ_WEIGHTS_DIR"
ALGORITHMS = ("sha256", "sha1", "md5")
_RECORD = "checksums.json"


@dataclass(frozen=True)
class PublishedFile:
    """One published file: its ``role`` (weights, deploy, mean or archive), file name, URLs,
    ``{algorithm: hex}`` checksums, where they come from, and for an archive the member file
    name of each role it holds."""
    role: str
    name: str
    urls: tuple
    checksums: dict
    checksum_from: tuple
    members: dict


@dataclass(frozen=True)
class PublishedModel:
    """One published model (see the module doc); ``layout`` names its layer naming scheme
    ('he': He et al.'s ResNet names; 'vggface2': VGGFace2's), ``mean_bgr`` the per-channel
    mean its training subtracted."""
    key: str
    name: str
    citation: str
    purpose: str
    layout: str
    mean_bgr: tuple
    page: str
    note: str
    files: tuple

    def roles(self):
        """``{role: (file, member name or None)}`` for every role the entry provides."""
        out = {}
        for f in self.files:
            out[f.role] = (f, None)
            for role, member in f.members.items():
                out[role] = (f, member)
        return out


def _entry(e):
    files = []
    for f in e["files"]:
        checks = {str(a).lower(): str(h).lower() for a, h in f.get("checksums", {}).items()}
        unknown = sorted(set(checks) - set(ALGORITHMS))
        if unknown:
            raise ZooError(f"{ZOO_FILE}: published entry {e['key']!r}, file {f['name']!r}: "
                           f"unknown checksum algorithm(s) {', '.join(unknown)} (known: "
                           f"{', '.join(ALGORITHMS)})")
        files.append(PublishedFile(f["role"], f["name"], tuple(f["urls"]), checks,
                                   tuple(f.get("checksum_from", ())),
                                   dict(f.get("members", {}))))
    return PublishedModel(e["key"], e["name"], e["citation"], e.get("purpose", ""), e["layout"],
                          tuple(float(v) for v in e["mean_bgr"]), e.get("page", ""),
                          e.get("note", ""), tuple(files))


def published():
    """Every published entry, in zoo.json order."""
    try:
        return [_entry(e) for e in _zoo_data().get("published", [])]
    except (KeyError, TypeError, ValueError) as e:
        raise ZooError(f"{ZOO_FILE}: malformed 'published' section ({e!r})") from None


def get_published(key):
    """The published entry ``key`` (case-insensitive); ZooError listing the keys."""
    table = {m.key: m for m in published()}
    entry = table.get(str(key).strip().lower())
    if entry is None:
        raise ZooError(f"unknown published model {key!r}; the zoo has: {', '.join(table)}")
    return entry


def weights_dir():
    """The folder published files are fetched into (module doc)."""
    override = os.environ.get(ENV_DIR)
    if override:
        return pathlib.Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "robust-lq-emotion" / "weights"


def file_digest(path, algorithm):
    """Hex digest of a file's bytes with ``algorithm`` (one of :data:`ALGORITHMS`)."""
    if algorithm not in ALGORITHMS:
        raise ZooError(f"unknown checksum algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")
    h = hashlib.new(algorithm)
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        raise ZooError(f"{path}: no such file") from None
    except OSError as e:
        raise ZooError(f"{path}: cannot read ({e.strerror or e})") from None
    return h.hexdigest()


def verify(path, checksums, what=None):
    """Check the file ``path`` against every ``{algorithm: hex}`` of ``checksums``; ZooError
    naming the file, the algorithm and both values on a mismatch, or when ``checksums`` is
    empty (nothing to check against is never taken as a pass)."""
    what = what or os.fspath(path)
    if not checksums:
        raise ZooError(f"{what}: no checksum to verify it against (none is published for it; "
                       "give the one you trust with --sha256)")
    for algorithm, want in checksums.items():
        got = file_digest(path, algorithm)
        if got != want.lower():
            raise ZooError(f"{what}: {algorithm} is {got}, expected {want.lower()}: not the "
                           "published file (a damaged or different download)")


def _download(url, dest, opener):
    with opener(url) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def _record(folder):
    try:
        return json.loads((folder / _RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ZooError(f"{folder / _RECORD}: unreadable ({e}); delete the folder and fetch "
                       "again") from None


def _unpack(archive, pf, folder):
    """Extract ``pf``'s members (matched by file name anywhere in the archive) into
    ``folder``; ZooError naming the archive and the member when one is missing."""
    try:
        with tarfile.open(archive) as tar:
            by_name = {}
            for m in tar.getmembers():
                if m.isfile():
                    by_name.setdefault(os.path.basename(m.name), m)
            for member in pf.members.values():
                m = by_name.get(member)
                if m is None:
                    raise ZooError(f"{archive}: the archive has no file {member!r} (it holds "
                                   f"{', '.join(sorted(by_name)) or 'no file'})")
                with tar.extractfile(m) as src, atomic_path(folder / member) as tmp:
                    with open(tmp, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
    except tarfile.TarError as e:
        raise ZooError(f"{archive}: not a readable tar archive ({e})") from None


def fetch(key, folder=None, source=None, sha256=None, opener=None, log=print):
    """Fetch entry ``key``'s files into ``folder / key`` (default :func:`weights_dir`), each
    checked before it is put in place; returns ``{role: path}``.

    ``source``: a local file to use instead of downloading, the entry's file of the same name
    (or its only file); only that file is fetched then. ``sha256``: a checksum the user trusts, checked as well as the published ones
    (required for a file without a published checksum). ``opener``: ``urllib.request.urlopen``
    by default (any callable giving a readable context manager)."""
    import urllib.error
    import urllib.request
    entry = get_published(key)
    opener = opener or urllib.request.urlopen
    folder = pathlib.Path(folder or weights_dir()) / entry.key
    folder.mkdir(parents=True, exist_ok=True)
    files = entry.files
    if source is not None:
        named = [f for f in files if f.name == os.path.basename(os.fspath(source))]
        files = named or (files if len(files) == 1 else [])
        if not files:
            raise ZooError(f"{entry.key}: --from {source}: name the file as published, one of "
                           f"{', '.join(f.name for f in entry.files)}")
    record = _record(folder)
    for pf in files:
        checks = dict(pf.checksums)
        if sha256:
            checks["sha256"] = sha256.lower()
        dest = folder / pf.name
        if not checks and source is None and dest.is_file():
            checks = dict(record.get(pf.name) or {})     # what it was fetched with before
        if not checks:
            raise ZooError(f"{entry.key}: {pf.name} has no published checksum; give the sha256 "
                           "you trust with --sha256 (see `python -m lq_models published`)")
        if source is not None:
            with atomic_path(dest) as tmp:
                shutil.copyfile(source, tmp)
                verify(tmp, checks, what=f"{source}")
        elif dest.is_file() and record.get(pf.name) == checks:
            verify(dest, checks)
            log(f"{dest}: present, checked ({', '.join(checks)})")
        else:
            failures = []
            for url in pf.urls:
                log(f"{pf.name}: downloading {url}")
                try:
                    with atomic_path(dest) as tmp:
                        _download(url, tmp, opener)
                        verify(tmp, checks, what=f"{pf.name} from {url}")
                    break
                except (OSError, urllib.error.URLError, ValueError, ZooError) as e:
                    failures.append(f"{url}: {e}")
            else:
                raise ZooError(f"{entry.key}: no URL gave {pf.name} with the published "
                               "checksum:\n  " + "\n  ".join(failures) + "\nDownload it by "
                               f"hand from {entry.page or pf.urls[0]} and give it with --from")
        record[pf.name] = checks
        if pf.members:
            _unpack(dest, pf, folder)
        write_text_atomic(folder / _RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
        log(f"{dest}: checked against {', '.join(f'{a} {h}' for a, h in checks.items())}")
    fetched = {f.name for f in files}
    return {role: local_path(entry.key, role, folder.parent)
            for role, (pf, _) in entry.roles().items() if pf.name in fetched}


def local_path(key, role="weights", folder=None):
    """The fetched file of ``role`` of entry ``key``, checked again against what it was
    fetched with (an archive member: its archive); ZooError saying how to fetch it when it is
    not there."""
    entry = get_published(key)
    roles = entry.roles()
    if role not in roles:
        raise ZooError(f"{entry.key}: no {role} file (it has: {', '.join(roles)})")
    pf, member = roles[role]
    base = pathlib.Path(folder or weights_dir()) / entry.key
    path = base / (member or pf.name)
    checks = _record(base).get(pf.name)
    if not path.is_file() or not (base / pf.name).is_file() or not checks:
        raise ZooError(f"{entry.key}: {path} is not fetched yet; run `python -m lq_models fetch "
                       f"{entry.key}` (with --from FILE for a file you downloaded yourself)")
    verify(base / pf.name, checks)
    return path
