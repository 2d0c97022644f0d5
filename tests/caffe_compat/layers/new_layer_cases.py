"""Running the Caffe 1.0 fixtures of ``fixtures/new_layers`` (written by
``fixtures/make_new_layers.py`` with real pycaffe) through caffe_compat's Net.

A case holds a small net (prototxt text and phase), the parameters Caffe used, the inputs of one
or more forwards with every blob Caffe computed, and after the last forward the diffs of every
blob and parameter for a backward seeded with the stored diffs on the non-loss outputs (on top
of the loss weights). ``CaseRun`` replays it; ``compare`` returns (what, scaled error) rows.
"""
import contextlib
import json
import os
import pathlib

import numpy as np
import torch

from caffe_compat import Net
from tests.caffe_compat.reference import scaled_error

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "new_layers"


def case_meta(name):
    with open(FIXTURES / "meta.json") as f:
        meta = json.load(f)
    return meta["cases"].get(name, {}), meta


def load_case(name):
    with np.load(FIXTURES / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


@contextlib.contextmanager
def working_dir(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class CaseRun:
    """One case replayed: ``blobs[s]`` (our blobs after forward s), ``diffs`` and ``pdiffs``."""

    def __init__(self, name, workdir=FIXTURES, weights=None):
        self.name = name
        self.ref = load_case(name)
        self.meta, _ = case_meta(name)
        self.steps = sorted({int(k.split("/")[0][1:]) for k in self.ref if k[0] == "s"
                             and k.split("/")[0][1:].isdigit()})
        with working_dir(workdir):
            self.net = Net(str(self.ref["net"]), weights, phase=str(self.ref["phase"]).lower(),
                           keep_diffs=True)
            if weights is None:
                self._set_params()
            if "memory/data" in self.ref:
                self.net.set_input_arrays(self.ref["memory/data"], self.ref["memory/labels"])
            self.blobs = []
            for s in self.steps:
                feed = {k.split("/", 2)[2]: v for k, v in self.ref.items()
                        if k.startswith(f"s{s}/in/")}
                self.net.forward(**feed)
                self.blobs.append({n: b.data.detach().numpy().copy()
                                   for n, b in self.net.blobs.items()})
                scale = self.meta.get("scale_blob_after_step0")
                if s == 0 and scale:
                    with torch.no_grad():
                        self.net.blobs[scale[0]].data.mul_(scale[1])
            self.backward()

    def _set_params(self):
        with torch.no_grad():
            for key, value in self.ref.items():
                if key.startswith("param/"):
                    _, layer, i = key.split("/")
                    self.net.params[layer][int(i)].copy_(torch.from_numpy(value))

    def backward(self):
        """The loss (with its loss weights) plus the stored diffs on the other outputs."""
        seeds = {k.split("/", 2)[2]: v for k, v in self.ref.items()
                 if k.startswith("bwd/topdiff/")}
        if not any(k.startswith("bwd/") for k in self.ref):
            return
        total = self.net.loss
        for name, diff in seeds.items():
            t = self.net.blobs[name].data
            if t.requires_grad:
                term = (t * torch.from_numpy(diff).to(t.dtype)).sum()
                total = term if total is None else total + term
        if total is not None and total.requires_grad:
            total.backward()

    def diff(self, name):
        return self.net.blobs[name].diff.detach().numpy()

    def param_diff(self, layer, i):
        p = self.net.params[layer][i]
        return np.zeros(tuple(p.shape), np.float32) if p.grad is None else p.grad.numpy()

    def compare(self, random_blobs=()):
        """Rows (what, error): every blob after every forward ("s<k> top <name>"), then every
        blob diff ("diff <name>") and parameter gradient ("param <layer>/<i> grad")."""
        rows = []
        for s, ours in zip(self.steps, self.blobs):
            for name, value in ours.items():
                ref = self.ref.get(f"s{s}/blob/{name}")
                if ref is None:
                    continue
                if name in random_blobs or name in self.meta.get("random_blobs", ()):
                    rows.append((f"s{s} top {name} (shape only)",
                                 0.0 if value.shape == ref.shape else float("inf")))
                    continue
                rows.append((f"s{s} top {name}", scaled_error(value, ref)))
        seeded = {k.split("/", 2)[2] for k in self.ref if k.startswith("bwd/topdiff/")}
        for key, ref in self.ref.items():
            if key.startswith("bwd/diff/"):
                name = key.split("/", 2)[2]
                if name in seeded:        # Caffe's diff there is the seed itself
                    continue
                rows.append((f"diff {name}", scaled_error(self.diff(name), ref)))
            elif key.startswith("bwd/pdiff/"):
                _, _, layer, i = key.split("/")
                rows.append((f"param {layer}/{i} grad",
                             scaled_error(self.param_diff(layer, int(i)), ref)))
        return rows


def split_rows(rows):
    """(max forward error, max backward error) of compare()'s rows."""
    fwd = max([e for w, e in rows if " top " in f" {w}"], default=0.0)
    bwd = max([e for w, e in rows if " top " not in f" {w}"], default=0.0)
    return fwd, bwd


def report(name, rows):
    """Print the figures (shown with ``pytest -s``); return (forward, backward) maxima."""
    fwd, bwd = split_rows(rows)
    print(f"\n{name}: {len(rows)} comparisons with real Caffe, max forward error {fwd:.3g}, "
          f"max backward error {bwd:.3g}")
    for what, err in rows:
        print(f"  {what}: {err:.3g}")
    return fwd, bwd
