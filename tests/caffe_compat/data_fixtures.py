"""Access to the committed Caffe data-pipeline fixtures (tests/fixtures/caffe_data), written
by real Caffe 1.0 with tests/fixtures/caffe_data/make_fixtures.py.

- ``images/``: the tiny images, list files and window file the fixtures were made from;
- ``cases.json``: the databases (convert_imageset flags), means and nets (prototxt, phase,
  seed) of every case;
- ``databases.npz``: the keys and values of every database Caffe wrote (``db/<name>/...``);
- ``*.binaryproto``: compute_image_mean's outputs, byte for byte;
- ``batches.npz``: the first batches real Caffe produced for each net (``<case>/data/<i>``,
  ``<case>/label/<i>``), over Caffe's databases and (``ours/<case>/...``) over the databases
  written by this project's convert_imageset / extract_features.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "caffe_data"
IMAGES = FIXTURES / "images"


def pack_records(records):
    """{"keys", "key_offsets", "values", "value_offsets"} arrays for (key, value) pairs."""
    keys = [bytes(k) for k, _ in records]
    values = [bytes(v) for _, v in records]
    return {"keys": np.frombuffer(b"".join(keys), dtype=np.uint8),
            "key_offsets": np.cumsum([0] + [len(k) for k in keys]).astype(np.int64),
            "values": np.frombuffer(b"".join(values), dtype=np.uint8),
            "value_offsets": np.cumsum([0] + [len(v) for v in values]).astype(np.int64)}


def unpack_records(arrays, prefix=""):
    keys, ko = arrays[prefix + "keys"].tobytes(), arrays[prefix + "key_offsets"]
    values, vo = arrays[prefix + "values"].tobytes(), arrays[prefix + "value_offsets"]
    return [(keys[ko[i]:ko[i + 1]], values[vo[i]:vo[i + 1]]) for i in range(len(ko) - 1)]


def cases():
    return json.loads((FIXTURES / "cases.json").read_text())


def database_records(name):
    """The (key, value) records of Caffe's database ``name``."""
    with np.load(FIXTURES / "databases.npz") as z:
        return unpack_records(z, f"db/{name}/")


def write_database(records, path, backend):
    """Write ``records`` as a database at ``path`` with this project's writer."""
    from caffe_compat.data import db as db_io
    with db_io.create_db(path, backend) as w:
        for k, v in records:
            w.put(k, v)


def batches(case, ours=False):
    """[(data, label or None)] of Caffe's batches for net case ``case``."""
    prefix = ("ours/" if ours else "") + case + "/"
    out = []
    with np.load(FIXTURES / "batches.npz") as z:
        i = 0
        while f"{prefix}data/{i}" in z:
            label = z[f"{prefix}label/{i}"] if f"{prefix}label/{i}" in z else None
            out.append((z[f"{prefix}data/{i}"], label))
            i += 1
    return out


def has_batches(case, ours=False):
    prefix = ("ours/" if ours else "") + case + "/"
    with np.load(FIXTURES / "batches.npz") as z:
        return f"{prefix}data/0" in z


def fill(template, db_dir, means):
    """The prototxt of a case with its databases, means and image folder filled in."""
    out = template.replace("{images}", str(IMAGES))
    while "{db:" in out:
        i = out.index("{db:")
        j = out.index("}", i)
        out = out[:i] + str(pathlib.Path(db_dir) / out[i + 4:j]) + out[j + 1:]
    while "{mean:" in out:
        i = out.index("{mean:")
        j = out.index("}", i)
        out = out[:i] + str(means[out[i + 6:j]]) + out[j + 1:]
    return out
