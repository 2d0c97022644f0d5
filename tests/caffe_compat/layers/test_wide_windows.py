"""Windows wider than the extent they slide over, as real Caffe 1.0 computes them
(fixtures/make_wide_windows.py): LRN ACROSS_CHANNELS with local_size 5 over 3 channels and 7
over 2 (Caffe's zero-padded squares), WITHIN_CHANNEL with local_size 5 over 3 x 4 and 7 over
1 x 2 pixels, MAX / AVE Pooling whose kernel exceeds the padded input (Caffe's output size
rounds up), and a Convolution whose kernel exceeds its input by one at stride 2 (Caffe's
output size truncates toward zero: one output, the missing row and column read as zeros).
Forward and backward (``force_backward``), through pycaffe as the fixture was written, and
the inference forward of the engine (its fast-path forms) under no_grad."""
import os

import numpy as np
import pytest
import torch

import caffe
import caffe_compat
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, scaled_error

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "wide_windows.npz")


def _reference():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


REF = _reference()
CASES = sorted({k.split("/")[0] for k in REF if not k.startswith("meta/")})


def _net(case, tmp_path, engine=False):
    path = tmp_path / f"{case}.prototxt"
    path.write_text(str(REF[f"{case}/net"]))
    if engine:
        net = caffe_compat.Net(str(path), phase="TEST")
        params = net.layers["layer"].blobs if "layer" in net.layers else []
    else:
        net = caffe.Net(str(path), caffe.TEST)
        params = [p.data for p in net.params.get("layer", [])]
    for i, blob in enumerate(params):
        value = REF[f"{case}/param{i}"]
        if engine:
            with torch.no_grad():
                blob.copy_(torch.from_numpy(value))
        else:
            blob[...] = value
    return net


def test_every_case_is_covered():
    assert len(CASES) == 7 and any(c.startswith("lrn_across") for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_forward_and_backward_match_caffe(case, tmp_path):
    caffe.set_mode_cpu()
    net = _net(case, tmp_path)
    net.blobs["x"].data[...] = REF[f"{case}/x"]
    net.forward()
    # FORWARD_TOL / BACKWARD_TOL: the LRN tests' tolerances (float32 summation order and the
    # extra reductions of a gradient)
    assert scaled_error(net.blobs["y"].data, REF[f"{case}/y"]) <= FORWARD_TOL
    net.blobs["y"].diff[...] = REF[f"{case}/dy"]
    net.backward()
    assert scaled_error(net.blobs["x"].diff, REF[f"{case}/dx"]) <= BACKWARD_TOL
    for i, blob in enumerate(net.params.get("layer", [])):
        assert scaled_error(blob.diff, REF[f"{case}/dparam{i}"]) <= BACKWARD_TOL


@pytest.mark.parametrize("case", CASES)
def test_inference_forward_matches_caffe(case, tmp_path):
    net = _net(case, tmp_path, engine=True)
    with torch.no_grad():
        y = net.forward(x=torch.from_numpy(REF[f"{case}/x"]))["y"]
    # the fast path's LRN form is a few float32 roundings from the layer's (fast_layers.py)
    assert scaled_error(y.numpy(), REF[f"{case}/y"]) <= FORWARD_TOL
