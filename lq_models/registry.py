"""The user's registry of weights files: sha256 -> zoo entry, recorded by ``register``.

The registry is a JSON file in the user's configuration folder:
``$RLQ_MODEL_REGISTRY`` if set (a file path), else ``$XDG_CONFIG_HOME/robust-lq-emotion/
models.json``, else ``~/.config/robust-lq-emotion/models.json``. It is rewritten atomically on
every change. Registering checks the file's layer signature against the entry first, so a
registered hash always names an entry the file fits.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib

from caffe_compat.io.atomic import write_text_atomic

from .zoo import ZooError, get

__all__ = ["ENV_VAR", "registry_path", "read_registry", "register", "unregister", "lookup",
           "sha256_file"]

ENV_VAR = "RLQ_MODEL_REGISTRY"
FORMAT = 1


def registry_path():
    """Where the registry lives (see the module docstring); the file may not exist yet."""
    override = os.environ.get(ENV_VAR)
    if override:
        return pathlib.Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return pathlib.Path(base) / "robust-lq-emotion" / "models.json"


def sha256_file(path):
    """Hex sha256 of a file's bytes; ZooError naming the file if it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        raise ZooError(f"{path}: no such weights file") from None
    except IsADirectoryError:
        raise ZooError(f"{path}: is a directory, not a weights file") from None
    except OSError as e:
        raise ZooError(f"{path}: cannot read ({e.strerror or e})") from None
    return h.hexdigest()


def read_registry(path=None):
    """``{sha256: record}`` (record: key, path, size, registered); empty if no file yet."""
    path = pathlib.Path(path) if path is not None else registry_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ZooError(f"{path}: cannot read the model registry ({e.strerror or e})") from None
    try:
        data = json.loads(text)
        files = data["files"]
        if not isinstance(files, dict) or not all(isinstance(r, dict) and "key" in r
                                                  for r in files.values()):
            raise ValueError("'files' must map sha256 -> {key, ...}")
    except (ValueError, KeyError, TypeError) as e:
        raise ZooError(f"{path}: not a model registry file ({e}); expected JSON "
                       '{"format": 1, "files": {sha256: {"key": ...}}} (fix or delete it, or '
                       f"point {ENV_VAR} elsewhere)") from None
    return files


def _write(files, path):
    body = {"format": FORMAT, "files": dict(sorted(files.items()))}
    write_text_atomic(path, json.dumps(body, indent=1) + "\n")


def lookup(sha256, path=None):
    """The registry record of a hash, or None."""
    return read_registry(path).get(sha256)


def register(weights, key, path=None, replace=False, force=False):
    """Record ``weights`` (a caffemodel) as zoo entry ``key``; return the record.

    The file must fit the entry's layer signature (IncompatibleWeightsError otherwise). A file
    whose stored layer definitions say it was saved from another training net than the entry's
    (e.g. the joint net's conv1 lr_mult 0.1, registered as ``hr``) is refused unless ``force``.
    A file already registered under another key is refused unless ``replace``.
    """
    from caffe_compat.io import caffemodel as caffemodel_io
    from caffe_compat.net.signature import (IncompatibleWeightsError, compare_signatures,
                                        layer_signature)

    from .provenance import contradiction
    entry = get(key)
    weights = os.path.abspath(os.fspath(weights))
    net_param = caffemodel_io.read_caffemodel(weights)
    sig = layer_signature(net_param)
    problems, _ = compare_signatures(entry.signature, sig, expected_label=f"entry '{entry.key}'",
                                     actual_label="the file")
    if problems:
        raise IncompatibleWeightsError(
            f"{weights}: does not fit zoo entry '{entry.key}' ({entry.name}):\n  "
            + "\n  ".join(problems), problems)
    why_not = contradiction(entry, net_param)
    if why_not and not force:
        raise ZooError(f"{weights}: not registered as '{entry.key}': {why_not}. Pass --force "
                       "(force=True) if you know the file is this model")
    digest = sha256_file(weights)
    reg_path = pathlib.Path(path) if path is not None else registry_path()
    files = read_registry(reg_path)
    old = files.get(digest)
    if old is not None and old["key"] != entry.key and not replace:
        raise ZooError(f"{weights}: already registered as '{old['key']}' in {reg_path}; pass "
                       "--replace to register it as "
                       f"'{entry.key}' instead")
    record = {"key": entry.key, "path": weights, "size": os.path.getsize(weights),
              "registered": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds")}
    files[digest] = record
    _write(files, reg_path)
    return dict(record, sha256=digest, registry=str(reg_path))


def unregister(what, path=None):
    """Remove a registered file (by sha256, its path, or every file of a zoo key); return the
    removed hashes (ZooError if nothing matched)."""
    reg_path = pathlib.Path(path) if path is not None else registry_path()
    files = read_registry(reg_path)
    target = str(what)
    if os.path.isfile(target):
        drop = [sha256_file(target)]
    else:
        drop = [h for h, r in files.items() if h == target.lower() or r["key"] == target.lower()]
    drop = [h for h in drop if h in files]
    if not drop:
        raise ZooError(f"{what}: nothing like it is registered in {reg_path}")
    for h in drop:
        del files[h]
    _write(files, reg_path)
    return drop
