"""Running the Caffe 1.0 reference fixtures (tests/fixtures/caffe-reference/forward) in our Net.

Each fixture folder holds a net, its inputs, the weights Caffe used, and Caffe's blobs (and, with
a loss, the diffs after one backward). ``run_fixture`` builds the same net, runs forward and
backward once and returns ours beside Caffe's; results are cached per folder for the session.
"""
import functools
import json
import os

import numpy as np
import torch

from caffe_compat import Net
from caffe_compat.verify.checks import scaled_error as verify_scaled_error
from tests.conftest import fixture_path

# Forward outputs: float32 with different summation orders (Caffe's im2col + OpenBLAS GEMM vs
# torch's kernels) differ by ~1e-6 of the blob's scale; 1e-5 leaves a margin of ten.
FORWARD_TOL = 1e-5
# Gradients pass through more reductions (and ReLU/MAX near-ties); 1e-4 of the blob's scale.
BACKWARD_TOL = 1e-4


def scaled_error(ours, ref):
    """max |ours - ref| / max |ref| (the blob's own scale); absolute when ref is all zeros
    (``caffe-compat verify``'s measure), with a shape mismatch as a failed assertion."""
    assert np.shape(ours) == np.shape(ref), f"shape {np.shape(ours)} vs Caffe's {np.shape(ref)}"
    return verify_scaled_error(ours, ref)


class FixtureRun:
    def __init__(self, folder):
        self.folder = folder
        with open(os.path.join(folder, "fixture.json")) as f:
            self.meta = json.load(f)
        self.inputs = dict(np.load(os.path.join(folder, self.meta["inputs"])))
        self.ref_blobs = dict(np.load(os.path.join(folder, self.meta["blobs"])))
        self.ref_diffs = dict(np.load(os.path.join(folder, self.meta["diffs"]))) \
            if self.meta.get("diffs") else None
        self.ref_params = dict(np.load(os.path.join(folder, self.meta["params"]))) \
            if self.meta.get("params") else None
        cwd = os.getcwd()
        os.chdir(folder)  # HDF5 list files are relative to the working directory, as in Caffe
        try:
            weights = os.path.join(folder, self.meta["weights"])
            self.net = Net(os.path.join(folder, self.meta["net"]), weights,
                           phase=self.meta["phase"].lower(), keep_diffs=True)
            feed = {k: v for k, v in self.inputs.items() if k in self.net.inputs}
            self.outputs = self.net.forward(**feed)
            if self.ref_diffs is not None and self.net.loss is not None \
                    and self.net.loss.requires_grad:
                self.net.backward()
        finally:
            os.chdir(cwd)

    def blob(self, name):
        return self.net.blobs[name].data.detach().numpy()

    def diff(self, name):
        return self.net.blobs[name].diff.detach().numpy()

    def param_diff(self, layer, index):
        p = self.net.params[layer][index]
        return np.zeros(tuple(p.shape), np.float32) if p.grad is None else p.grad.numpy()

    def layers_of_type(self, type_name):
        return [n for n, key, _, _ in self.net._nodes if n.type == type_name]


@functools.lru_cache(maxsize=None)
def run_fixture(name):
    """The fixture ``forward/<name>`` run through our Net."""
    folder = str(fixture_path("caffe-reference", "forward", name))
    torch.manual_seed(0)
    return FixtureRun(folder)


def check_layer_type(fixture_name, type_name, forward_tol=FORWARD_TOL,
                     backward_tol=BACKWARD_TOL):
    """Compare every layer of ``type_name`` in a fixture: its tops against Caffe's blobs, and
    (where Caffe stored diffs) the diffs of its bottoms and its parameter gradients.

    Returns the list of (what, error) checked, so tests can print their figures.
    """
    run = run_fixture(fixture_name)
    nodes = run.layers_of_type(type_name)
    assert nodes, f"no {type_name} layer in fixture {fixture_name}"
    checked = []
    for node in nodes:
        for top in node.tops:
            if top in run.ref_blobs:
                err = scaled_error(run.blob(top), run.ref_blobs[top])
                checked.append((f"{node.name}: top {top}", err))
                assert err <= forward_tol, f"{node.name} top '{top}': error {err:.3g}"
        if run.ref_diffs is None:
            continue
        for b in node.bottoms:
            if b in run.ref_diffs:
                err = scaled_error(run.diff(b), run.ref_diffs[b])
                checked.append((f"{node.name}: diff {b}", err))
                assert err <= backward_tol, f"{node.name} bottom diff '{b}': error {err:.3g}"
        for i in range(len(run.net.layer(node.name).blobs)):
            key = f"{node.name}/{i}"
            if key in run.ref_diffs:
                err = scaled_error(run.param_diff(node.name, i), run.ref_diffs[key])
                checked.append((f"{node.name}: param {i} grad", err))
                assert err <= backward_tol, f"{key} gradient: error {err:.3g}"
    return checked
