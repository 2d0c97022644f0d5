"""The torch-free path on whole nets against caffe_compat.Net's exact forward: the five
programs of benchmarks/one_shot_nets.py (SqueezeNet 1.1 classification, the res10 SSD,
OpenPose COCO, FCN-8s, colorization) and GoogLeNet / CaffeNet, seeded weights and inputs.

The dense nets run at reduced input sizes by default (their layers and weights are the full
nets'); FCN-8s (537 MB of weights), the samples' own sizes and the classic nets are the slow
pass's."""
import numpy as np
import pytest

from benchmarks import one_shot_nets
from tests.caffe_compat.dnn import nets, zoo_nets
from tests.caffe_compat.public_nets import NETS, dense

from .helpers import exact, scaled_error, seeded_model, torch_free

# the engines' trust tolerance (docs/engines.md, Trust): float32 in another summation order
# through a whole net, max |torch-free - ours| / max |ours| per output
NET_TOL = 1e-4


def _files(kind, size):
    if kind == "classification":
        text, blobs = zoo_nets.squeezenet11()
        return text, nets.caffemodel_bytes(text, blobs, seed=0)
    if kind == "ssd":
        text, blobs = nets.res10_ssd(size)
        return text, nets.caffemodel_bytes(text, blobs, seed=0)
    if kind == "pose":
        text = one_shot_nets.openpose(size)
    elif kind == "segmentation":
        text = dense.fcn8s(size)
    elif kind == "colorization":
        text = dense.colorization(size)
    else:
        text = NETS[kind]["build"]()
    return text, seeded_model(text, seed=3)


def _check(kind, size, tmp_path):
    from caffe_compat.io.prototxt import parse_net
    text, model = _files(kind, size)
    param = parse_net(text)
    layers = [lp for lp in param.layer if lp.type != "Input"]
    inputs = {lp.top[0]: tuple(lp.input_param.shape[0].dim)
              for lp in param.layer if lp.type == "Input"}
    rng = np.random.default_rng(7)
    feed = {n: rng.uniform(-1, 1, s).astype(np.float32) * 50 for n, s in inputs.items()}
    last = layers[-1]
    (got,), net = torch_free(text, model, feed, [last.name if last.type != "Convolution"
                                                 else last.top[0]])
    want = exact(text, model, feed, [last.top[0]], tmp_path)[last.top[0]]
    assert got.shape == want.shape
    if last.type == "DetectionOutput":
        # rows whose scores tie within float32 rounding may come in either order
        got, want = (np.array(sorted(map(tuple, a.reshape(-1, 7)))) for a in (got, want))
    err = scaled_error(got, want)
    print(f"{kind} {size}: scaled error {err:.3g}")
    assert err <= NET_TOL, f"{kind}: {err:.3g}"
    return err


@pytest.mark.parametrize("kind, size", [("classification", None), ("ssd", 300),
                                        ("pose", 64), ("colorization", 64)])
def test_one_shot_nets_match_our_forward(kind, size, tmp_path):
    _check(kind, size, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind, size", [("pose", 184), ("segmentation", 48),
                                        ("segmentation", 256),
                                        ("colorization", 224), ("GoogLeNet", None),
                                        ("CaffeNet (V1)", None)])
def test_sample_sizes_and_classic_nets_match_our_forward(kind, size, tmp_path):
    _check(kind, size, tmp_path)
