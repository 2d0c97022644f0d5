"""The array engine's SSD deploy layers (PriorBox, PriorBoxClustered, Normalize,
DetectionOutput) against the torch engine: each form's forward, and the res10 SSD face
detector end to end, with seeded weights."""
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat.array_net import build_array_net
from caffe_compat.io.prototxt import parse_net

from tests.caffe_compat.dnn import nets

# float32 sums over at most a few thousand values in another order than torch's: a few
# roundings of the partial sums, below 1e-5 of the values' scale
TOL = 1e-5

HEAD = ('name: "d"\nlayer { name: "in" type: "Input" top: "data" top: "image" input_param { '
        'shape { dim: 2 dim: 4 dim: 5 dim: 6 } shape { dim: 2 dim: 3 dim: 40 dim: 48 } } }\n')
CASES = {
    "normalize across": 'layer { name: "y" type: "Normalize" bottom: "data" top: "y" '
                        'norm_param { scale_filler { type: "constant" value: 2.5 } } }',
    "normalize per position, per channel": (
        'layer { name: "y" type: "Normalize" bottom: "data" top: "y" norm_param { '
        'across_spatial: false channel_shared: false eps: 0.001 '
        'scale_filler { type: "uniform" min: 0.5 max: 3 } } }'),
    "normalizebbox": 'layer { name: "y" type: "NormalizeBBox" bottom: "data" top: "y" }',
    "priorbox": ('layer { name: "y" type: "PriorBox" bottom: "data" bottom: "image" top: "y" '
                 'prior_box_param { min_size: 8 max_size: 20 aspect_ratio: 2 aspect_ratio: 3 '
                 'flip: true clip: true variance: 0.1 variance: 0.1 variance: 0.2 '
                 'variance: 0.2 offset: 0.5 } }'),
    "priorbox step": ('layer { name: "y" type: "PriorBox" bottom: "data" bottom: "image" '
                      'top: "y" prior_box_param { min_size: 12 step: 8 variance: 0.1 } }'),
    "priorboxclustered": ('layer { name: "y" type: "PriorBoxClustered" bottom: "data" '
                          'bottom: "image" top: "y" prior_box_param { width: 4 width: 9 '
                          'height: 6 height: 3 variance: 0.1 } }'),
}


def _close(got, want, what):
    want = np.asarray(want, np.float64)
    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err <= TOL, (what, err)


def _both(text, tmp_path, feed):
    ref = caffe_compat.Net(parse_net(text), phase="test", seed=4)
    model = tmp_path / "m.caffemodel"
    ref.save(str(model))
    ours = build_array_net(parse_net(text), "TEST")
    assert ours is not None, "the array engine refused the net"
    ours.copy_from(str(model))
    for name, value in feed.items():
        ours.data[name][...] = value
    ours.forward()
    want = ref.forward(blobs=list(ours.outputs),
                       **{k: torch.from_numpy(v) for k, v in feed.items()})
    for t in ours.outputs:
        assert ours.data[t].shape == tuple(want[t].shape), t
        _close(ours.data[t], want[t].detach().numpy(), t)


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_equals_the_torch_engine(case, tmp_path):
    rng = np.random.default_rng(2)
    feed = {"data": rng.normal(0, 1, (2, 4, 5, 6)).astype(np.float32),
            "image": rng.normal(0, 1, (2, 3, 40, 48)).astype(np.float32)}
    _both(HEAD + CASES[case] + "\n", tmp_path, feed)


def test_res10_ssd_equals_the_torch_engine(tmp_path):
    text, blobs = nets.res10_ssd()
    proto, weights = tmp_path / "ssd.prototxt", tmp_path / "ssd.caffemodel"
    proto.write_text(text)
    weights.write_bytes(nets.caffemodel_bytes(text, blobs, seed=0))
    ours = build_array_net(str(proto), "TEST")
    assert ours is not None, "the array engine refused the res10 SSD"
    ours.copy_from(str(weights))
    x = np.random.default_rng(0).uniform(-100, 100, ours.data["data"].shape).astype(np.float32)
    ours.data["data"][...] = x
    ours.forward()
    ref = caffe_compat.Net(str(proto), str(weights), phase="test")
    want = ref.forward(data=torch.from_numpy(x))["detection_out"].detach().numpy()
    got = ours.data["detection_out"]
    assert got.shape == want.shape
    # the boxes' coordinates and scores after NMS: the same detections, float32 rounding
    _close(got, want, "detection_out")
