"""Layers run in place whose Caffe backward reads the blob (ReLU, ELU, Sigmoid, TanH, BNLL,
Power, Exp, Log, Clip, Swish): Caffe's Backward_cpu reads the bottom and top data from the
blob as the forward left it, a later in-place layer's output where one follows (conv1, then
ReLU and Scale, all in place). Every engine against real Caffe 1.0 on the nets of
fixtures/in_place_reads/nets.py: pycaffe's array engine and torch engine, and
caffe_compat.Net's autograd pass (the solver's)."""
import os
import sys

import numpy as np
import pytest
import torch

import caffe
import caffe_compat

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "in_place_reads")
sys.path.insert(0, HERE)
import make_in_place_fixture as nets  # noqa: E402

REF = np.load(os.path.join(HERE, "in_place_reads.npz"))

# float32 sums in another order than Caffe's (conv1's 27 products, BatchNorm's means and
# variances of 18 values, whose differences it divides by the deviation), through the loss:
# below 1e-5 of each array's largest value (a sign read from the wrong data is off by 1e-1)
TOL = 1e-5


def _close(got, want, what):
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(np.asarray(got) - want).max()) / scale <= TOL, what


@pytest.fixture
def net_file(tmp_path):
    def write(name):
        path = tmp_path / f"{name}.prototxt"
        path.write_text(nets.HEAD.format(name=name) + nets.NETS[name]
                        + nets.TAIL)
        return str(path)
    return write


def _params(name):
    out = {}
    for key in REF.files:
        if key.startswith(f"{name}/param/"):
            layer, i = key.split("/")[2:]
            out.setdefault(layer, {})[int(i)] = REF[key]
    return out


@pytest.mark.parametrize("engine", ["array", "torch"])
@pytest.mark.parametrize("name", sorted(nets.NETS))
def test_pycaffe_backward_reads_the_blob_as_caffe(net_file, monkeypatch, name, engine):
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", "1" if engine == "array" else "0")
    net = caffe.Net(net_file(name), caffe.TRAIN)
    for layer, blobs in _params(name).items():
        for i, value in blobs.items():
            net.params[layer][i].data[...] = value
    for blob in ("data", "target"):
        net.blobs[blob].data[...] = REF[f"{name}/{blob}"]
    _close(net.forward()["loss"], REF[f"{name}/loss"], "loss")
    net.backward()
    _close(net.blobs["data"].diff, REF[f"{name}/diff/data"], "data diff")
    for layer, blobs in _params(name).items():
        for i in blobs:
            _close(net.params[layer][i].diff, REF[f"{name}/diff/{layer}/{i}"], f"{layer} {i}")


@pytest.mark.parametrize("name", sorted(nets.NETS))
def test_the_autograd_pass_reads_the_blob_as_caffe(net_file, name):
    net = caffe_compat.Net(net_file(name), phase="TRAIN")
    with torch.no_grad():
        for layer, blobs in _params(name).items():
            for i, value in blobs.items():
                net.layer(layer).blobs[i].copy_(torch.from_numpy(value))
    net.forward(data=REF[f"{name}/data"], target=REF[f"{name}/target"])
    _close(net.loss.item(), REF[f"{name}/loss"], "loss")
    net.backward()
    for layer, blobs in _params(name).items():
        for i in blobs:
            grad = net.layer(layer).blobs[i].grad      # None: BatchNorm's statistics (zeros)
            got = np.zeros_like(REF[f"{name}/diff/{layer}/{i}"]) if grad is None else grad
            _close(got, REF[f"{name}/diff/{layer}/{i}"], f"{layer} {i}")


def test_only_the_layers_whose_backward_differs_read_the_blob(tmp_path):
    # ReLU alone in place, or with Dropout after it (positive where ReLU's output was, no diff
    # where it drops), backpropagates its own gradient: it keeps the explicit training passes;
    # with a Scale after it, or a Sigmoid before Dropout, its backward reads the blob
    def net(layers):
        path = tmp_path / "net.prototxt"
        path.write_text(nets.HEAD.format(name="n") + layers + nets.TAIL)
        built = caffe_compat.Net(str(path), phase="TRAIN")
        return {built.layer_names[i] for i in built._blob_readers}, built.layer("relu")
    drop = nets.in_place("drop", "Dropout")
    for layers, readers, explicit in (
            (nets.in_place("relu", "ReLU"), set(), True),
            (nets.in_place("relu", "ReLU") + drop, set(), True),
            (nets.NETS["relu_scale"], {"relu"}, False),
            (nets.in_place("relu", "Sigmoid") + drop, {"relu"}, False)):
        found, relu = net(layers)
        assert found == readers and (relu.explicit_forward is not None) == explicit, layers
