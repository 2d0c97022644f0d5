"""The model zoo: one entry per model of Cheng et al. 2017, read from ``zoo.json``.

Each entry says, in the spirit of Caffe's model-zoo folders, which net definitions build it
(deploy, train/val and solver prototxt: the repository's ``prototxt/`` folder, installed as
``lq_models/prototxt``), how it is initialised (fillers, or conv1-conv3 copied from an
SR-FCN entry with a given ``lr_mult``), which data trains it (HR faces, faces downsampled by s, a
mix of factors, or SR patches), its row(s) of the paper's Table 1 (``paper_table1.json``, with the
citation) and the layer signature that identifies its caffemodel. No weights are shipped.
"""
from __future__ import annotations

import functools
import json
import os
import pathlib
from dataclasses import dataclass

from caffe_compat.errors import CaffeCompatError
from caffe_compat.net.signature import signature_from_json

__all__ = ["ZooError", "ModelEntry", "entries", "get", "keys", "prototxt_path", "paper_table",
           "paper_citation", "paper_rows", "signatures", "PACKAGE_DIR"]

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
ZOO_FILE = PACKAGE_DIR / "zoo.json"
TABLE_FILE = PACKAGE_DIR / "paper_table1.json"


class ZooError(CaffeCompatError):
    """An unknown zoo key, a damaged zoo or registry file, or a file that fits no entry."""


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ZooError(f"{path}: missing package data file (reinstall the package)") from None
    except (OSError, ValueError) as e:
        raise ZooError(f"{path}: cannot read the model zoo data ({e})") from None


def prototxt_path(name):
    """Path of a net or solver definition of the zoo (a file name such as
    ``cnnd_deploy.prototxt``): ``lq_models/prototxt/`` in an installed package, the repository's
    ``prototxt/`` in a source checkout."""
    base = os.path.basename(name)
    for folder in (PACKAGE_DIR / "prototxt", PACKAGE_DIR.parent / "prototxt"):
        if (folder / base).is_file():
            return folder / base
    raise ZooError(f"the zoo's prototxt file {name!r} is missing (looked in "
                   f"{PACKAGE_DIR / 'prototxt'} and {PACKAGE_DIR.parent / 'prototxt'})")


@dataclass(frozen=True)
class ModelEntry:
    """One model of the paper (see the module docstring for the fields' meaning)."""
    key: str
    name: str
    architecture: str            # 'cnnd' or 'srfcn'
    signature_name: str          # key into zoo.json 'signatures'
    factor: int | None           # downsampling factor s, None for HR and Joint-OA
    description: str
    deploy: str
    train_val: str
    solver: str
    init: dict
    data: dict
    table1: tuple                # ((s or None, method), ...)
    original: dict

    @property
    def deploy_path(self):
        return prototxt_path(self.deploy)

    @property
    def train_val_path(self):
        return prototxt_path(self.train_val)

    @property
    def solver_path(self):
        return prototxt_path(self.solver)

    @property
    def signature(self):
        """The layer signature (names, types, blob shapes) of this entry's caffemodel."""
        return signatures()[self.signature_name]["layers"]

    @property
    def input_size(self):
        """(H, W) of the deploy net's input as the paper used it, None for the SR-FCN."""
        size = signatures()[self.signature_name]["input"]
        return tuple(size) if size else None

    def paper_rows(self):
        """This entry's rows of the paper's Table 1 (dicts s, method, rmse, cc, ccc)."""
        return paper_rows(self.table1)

    @functools.cached_property
    def train_lr_mults(self):
        """``{layer: (weight lr_mult, bias lr_mult)}`` of the training net's parameter layers."""
        from caffe_compat.io.prototxt import read_net
        out = {}
        for lp in read_net(self.train_val_path).layer:
            if len(lp.param):
                out[lp.name] = tuple(float(p.lr_mult) if p.HasField("lr_mult") else 1.0
                                     for p in lp.param)
        return out

    def build(self, weights=None, phase="test", **kwargs):
        """The deploy net of this entry (a :class:`caffe_compat.Net`), with ``weights`` checked
        against the entry's signature first (IncompatibleWeightsError listing each problem)."""
        import caffe_compat
        from caffe_compat.net.signature import check_compatible
        net = caffe_compat.Net(str(self.deploy_path), phase=phase, **kwargs)
        if weights is not None:
            check_compatible(net, weights)
            net.copy_from(weights)
        return net

    def summary(self):
        """A few lines for ``python -m lq_models show``."""
        rows = self.paper_rows()
        family = "CNN+D" if self.architecture == "cnnd" else "SR-FCN"
        lines = [f"{self.key}: {self.name} ({family})",
                 f"  {self.description}",
                 f"  deploy:    {self.deploy_path}",
                 f"  train/val: {self.train_val_path}",
                 f"  solver:    {self.solver_path}"]
        init = self.init
        if init.get("source"):
            lines.append(f"  init:      {', '.join(init['layers'])} from {init['source']} "
                         f"(lr_mult {init['lr_mult']:g}); {init.get('note', '')}".rstrip("; "))
        else:
            lines.append(f"  init:      {init.get('note', 'fillers')}")
        lines.append(f"  data:      {self.data.get('note', self.data.get('kind'))}")
        for r in rows:
            s = "-" if r["s"] is None else r["s"]
            lines.append(f"  Table 1:   s={s} {r['method']}: RMSE {r['rmse']:.3f}, "
                         f"CC {r['cc']:.3f}, CCC {r['ccc']:.3f}")
        sig = ", ".join(f"{s.name} {'/'.join('x'.join(map(str, b)) for b in s.shapes)}"
                        for s in self.signature)
        lines.append(f"  signature: {sig}")
        return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def _zoo_data():
    """zoo.json as read (the paper's entries and signatures, and the published weights)."""
    return _load_json(ZOO_FILE)


@functools.lru_cache(maxsize=1)
def _zoo():
    data = _zoo_data()
    try:
        sigs = {name: {"architecture": s["architecture"], "input": s.get("input"),
                       "description": s["description"],
                       "layers": signature_from_json(s["layers"], f"{ZOO_FILE}: {name}")}
                for name, s in data["signatures"].items()}
        out = {}
        for e in data["entries"]:
            entry = ModelEntry(
                key=e["key"], name=e["name"], architecture=e["architecture"],
                signature_name=e["signature"], factor=e.get("factor"),
                description=e["description"], deploy=e["deploy"], train_val=e["train_val"],
                solver=e["solver"], init=dict(e["init"]), data=dict(e["data"]),
                table1=tuple((row[0], row[1]) for row in e["table1"]),
                original=dict(e.get("original", {})))
            if entry.signature_name not in sigs:
                raise KeyError(f"signature {entry.signature_name!r} of entry {entry.key!r}")
            out[entry.key] = entry
    except (KeyError, TypeError, IndexError) as e:
        raise ZooError(f"{ZOO_FILE}: malformed model zoo data ({e})") from None
    return sigs, out


def signatures():
    """``{name: {"architecture", "input", "description", "layers"}}`` from zoo.json."""
    return _zoo()[0]


def entries(architecture=None):
    """All zoo entries in zoo.json order, optionally only one ``architecture`` family."""
    return [e for e in _zoo()[1].values() if architecture in (None, e.architecture)]


def keys():
    return list(_zoo()[1])


def get(key):
    """The entry ``key`` (case-insensitive, e.g. ``"joint-4"``); ZooError listing the keys."""
    if isinstance(key, ModelEntry):
        return key
    table = _zoo()[1]
    entry = table.get(str(key).strip().lower())
    if entry is None:
        raise ZooError(f"unknown model {key!r}; the zoo has: {', '.join(table)}")
    return entry


@functools.lru_cache(maxsize=1)
def paper_table():
    """The paper's Table 1: dict with ``citation``, ``what``, ``columns`` and ``rows``."""
    return _load_json(TABLE_FILE)


def paper_citation():
    """The citation of the paper the zoo and Table 1 come from, as one line."""
    c = paper_table()["citation"]
    return f"{c['authors']}. {c['title']}. {c['venue']}, {c['year']}. arXiv:{c['arxiv']}."


def paper_rows(keys_):
    """Rows of Table 1 for ``[(s or None, method), ...]`` in that order."""
    rows = paper_table()["rows"]
    out = []
    for s, method in keys_:
        match = [r for r in rows if r["s"] == s and r["method"] == method]
        if not match:
            raise ZooError(f"{TABLE_FILE}: no Table 1 row for s={s}, method {method!r}")
        out.append(dict(match[0]))
    return out
