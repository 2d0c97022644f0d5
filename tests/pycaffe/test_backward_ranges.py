"""pycaffe's ``net.backward(start=..., end=...)`` over every sub-range of CaffeNet's and
GoogLeNet's deploy nets (force_backward, top diffs written from Python): the array engine takes
each range back without importing torch, and the bottom diffs equal the torch engine's
(caffe_compat.Net). GoogLeNet's 11,628 ranges run under ``-m slow``; the default suite takes
every range of one or two layers and the whole net."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import public_input

NETS = {"caffenet": "caffenet_deploy.prototxt", "googlenet": "googlenet_deploy.prototxt"}

# float32 sums of up to 2,400 products per value (conv2's 5 x 5 x 48 windows, fc6's 9,216
# inputs at 227 pixels) in another order than torch's, through up to 23 layers: a few
# thousand roundings of 6e-8, below 1e-5 of the diff's scale
TOL = 1e-5

# runs in a process of its own: every (start, end) pair backward from seeded top diffs; the
# diffs of each end layer's bottoms (its tops for the Input layer) saved; torch never imported
PROGRAM = r"""
import json, sys
import numpy as np
import caffe
proto, model, out, which = sys.argv[1:5]
net = caffe.Net(proto, caffe.TEST, weights=model)
assert net._arrays is not None, "the array engine did not take the net"
names = list(net._layer_names)
net.blobs["data"].data[...] = np.random.default_rng(1).normal(
    0, 1, net.blobs["data"].data.shape)
net.forward()
diffs = [blob.diff for blob in net.blobs.values()]
saved = {}
for i in range(len(names) - 1, -1, -1):
    for j in range(i, -1, -1):
        if which == "short" and i - j > 1 and (i, j) != (len(names) - 1, 0):
            continue
        for blob in diffs:              # every range from the same state (a Split sums
            blob[...] = 0               # its tops' diffs, some written by no layer of it)
        rng = np.random.default_rng(1000 * i + j)
        for t in net.top_names[names[i]]:
            net.blobs[t].diff[...] = rng.normal(0, 1, net.blobs[t].diff.shape)
        net.backward(start=names[i], end=names[j])
        if which == "sampled" and (7 * i + j) % 8:
            continue                    # run (without torch), not compared
        for b in net.bottom_names[names[j]] or net.top_names[names[j]]:
            saved[f"{i} {j} {b}"] = np.array(net.blobs[b].diff)
        assert "torch" not in sys.modules, (names[i], names[j])
np.savez(out, **saved)
print(json.dumps({"torch": "torch" in sys.modules, "pairs": len(saved)}))
"""


def _googlenet(tmp_path):
    """GoogLeNet's deploy net at batch 1 and 64 pixels with force_backward, every width an
    eighth (the inception blocks' structure kept; the last pooling global, as its 7 x 7 window
    is at 224 pixels), ``lr_mult: 0`` (the bottom diffs alone), its own fillers (xavier,
    seeded) written as a caffemodel."""
    import caffe_compat
    text = public_input("public-nets", "benchmark_nets", NETS["googlenet"]).read_text()
    text = text.replace("dim: 10 dim: 3 dim: 224 dim: 224", "dim: 1 dim: 3 dim: 64 dim: 64")
    text = text.replace("pool: AVE\n    kernel_size: 7\n    stride: 1",
                        "pool: AVE\n    global_pooling: true")
    assert "global_pooling: true" in text and "dim: 64" in text
    text = re.sub(r"num_output: (\d+)", lambda m: f"num_output: {max(1, int(m[1]) // 8)}", text)
    text = "force_backward: true\n" + re.sub(r"lr_mult: \d+", "lr_mult: 0", text)
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(text)
    model = tmp_path / "deploy.caffemodel"
    caffe_compat.Net(str(proto), phase="test", seed=3).save(str(model))
    return proto, model


def _deploy(tmp_path, size, lr_zero, fc=4096):
    """CaffeNet's deploy net at batch 1 and ``size`` pixels with force_backward (``lr_zero``:
    every parameter's ``lr_mult: 0``, so that Caffe computes no weight gradient), and random
    weights (xavier fillers drawn by the torch engine, seeded) written as a caffemodel;
    ``fc``: the width of fc6 and fc7."""
    import caffe_compat
    deploy = public_input("public-nets", "benchmark_nets", NETS["caffenet"])
    text = deploy.read_text().replace("dim: 10 dim: 3 dim: 227 dim: 227",
                                      f"dim: 1 dim: 3 dim: {size} dim: {size}")
    text = text.replace("num_output: 4096", f"num_output: {fc}")
    text = re.sub(r'(name: "(conv|fc)\d")', r'\1 param { lr_mult: 0 } param { lr_mult: 0 }',
                  text) if lr_zero else text
    # fillers for the deploy net's weights (it has none: Caffe's default is the constant 0)
    text = "force_backward: true\n" + re.sub(
        r"(num_output: \d+)", r'\1 weight_filler { type: "xavier" } '
        r'bias_filler { type: "uniform" min: -0.1 max: 0.1 }', text)
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(text)
    model = tmp_path / "deploy.caffemodel"
    net = caffe_compat.Net(str(proto), phase="test", seed=3)
    net.save(str(model))
    return proto, model


def _reference(proto, model, saved, which="all"):
    """The torch engine's bottom diffs for the same pairs and top diffs."""
    import torch

    import caffe_compat
    from caffe_compat.net.stepwise import Stepwise
    store = Stepwise(caffe_compat.Net(str(proto), phase="test", weights=str(model)))
    nodes = [entry[0] for entry in store.nodes]
    shape = tuple(store.data["data"].shape)
    store.data["data"][...] = torch.from_numpy(
        np.random.default_rng(1).normal(0, 1, shape).astype(np.float32))
    store.forward()
    worst = 0.0
    for i in range(len(nodes) - 1, -1, -1):
        for j in range(i, -1, -1):
            if which == "short" and i - j > 1 and (i, j) != (len(nodes) - 1, 0):
                continue
            if which == "sampled" and (7 * i + j) % 8:
                continue
            for name in store.data:
                d = store.diff_of(name)
                if d is not None:
                    d.zero_()
            rng = np.random.default_rng(1000 * i + j)
            for t in nodes[i].tops:
                d = store.diff_of(t)
                d[...] = torch.from_numpy(rng.normal(0, 1, tuple(d.shape)).astype(np.float32))
            store.backward(i, j)
            for b in nodes[j].bottoms or nodes[j].tops:
                got, want = saved[f"{i} {j} {b}"], store.diff_of(b).numpy()
                scale = float(np.abs(want).max()) or 1.0
                err = float(np.abs(got.astype(np.float64) - want).max()) / scale
                worst = max(worst, err)
                assert err <= TOL, (nodes[i].name, nodes[j].name, b, err)
    return worst


def _check(tmp_path, size, lr_zero, fc=4096, files=None, which="all"):
    proto, model = files or _deploy(tmp_path, size, lr_zero, fc)
    out = tmp_path / "diffs.npz"
    env = dict(os.environ, CAFFE_COMPAT_ARRAY_NET="1")
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", PROGRAM, str(proto),
                          str(model), str(out), which], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).resolve().parents[2], timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["torch"] is False
    with np.load(out) as saved:
        _reference(proto, model, dict(saved), which)


def test_every_backward_range_runs_without_torch_and_equals_the_torch_engine(tmp_path):
    """Every pair of the deploy net's layers at 51 pixels (pool5 1 x 1), fc6 and fc7 256 wide
    (4,096: the slow variant), parameters at ``lr_mult: 0`` (the bottom diffs alone, as an
    input-gradient program asks for them)."""
    _check(tmp_path, 51, lr_zero=True, fc=256)


@pytest.mark.slow
def test_every_backward_range_at_full_size_with_weight_gradients(tmp_path):
    """The deploy net as it is (227 pixels, batch 1, every weight gradient): every range
    taken back without torch, an eighth of them compared with the torch engine."""
    _check(tmp_path, 227, lr_zero=False, which="sampled")


def test_googlenet_short_ranges_and_the_whole_net(tmp_path):
    """GoogLeNet: every range of one or two layers (Split, Concat, the inception branches'
    joins), and the whole net back to its input."""
    _check(tmp_path, None, True, files=_googlenet(tmp_path), which="short")


@pytest.mark.slow
def test_googlenet_every_range(tmp_path):
    """Every one of the 11,628 ranges taken back without torch; an eighth of them (spread
    over every start and end) compared with the torch engine, whose own pass per range is
    what the time would go to."""
    _check(tmp_path, None, True, files=_googlenet(tmp_path), which="sampled")
