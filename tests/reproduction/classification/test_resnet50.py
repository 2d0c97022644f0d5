"""The real-data path's ResNet-50: a caffemodel of ImageNet ResNet-50's layout (random weights
written here) loads into prototxt/resnet50_ferplus_train_val and trains a few iterations."""
import os

import cv2
import numpy as np
import pytest
import torch

from caffe_compat import Net, get_solver
from caffe_compat.io.prototxt import read_net
from reproduction.classification import resnet50
from tests.conftest import REPO

PROTOTXT = REPO / "prototxt"


def test_committed_prototxt_is_the_generator_output():
    for kind in ("train_val", "deploy"):
        text = (PROTOTXT / f"resnet50_ferplus_{kind}.prototxt").read_text()
        assert text == resnet50.net_text(kind)


def test_resnet50_layout():
    net = Net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"), phase="test")
    names = [n for n, _ in net.params.items()] if hasattr(net.params, "items") else list(net.params)
    convs = [n for n in names if n.startswith(("conv", "res")) and "relu" not in n]
    assert len(convs) == 53                   # 1 + 16 blocks x 3 + 4 projections
    assert tuple(net.blobs["pool5"].data.shape) == (1, 2048, 1, 1)
    assert tuple(net.blobs["prob"].data.shape) == (1, 8)


def _imagenet_layout_weights(path):
    """A caffemodel with ImageNet ResNet-50's layers (fc1000 included), random values."""
    param = read_net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"))
    for lp in param.layer:
        if lp.name == "fc_emotion":
            lp.name = "fc1000"
            lp.inner_product_param.num_output = 1000
            lp.top[0] = "fc1000"
        if lp.name == "prob":
            lp.bottom[0] = "fc1000"
    torch.manual_seed(0)
    net = Net(param, phase="test")
    with torch.no_grad():
        for name, blobs in net.params.items():
            for b in blobs:
                data = b.data if hasattr(b, "data") else b
                t = torch.as_tensor(data)
                if name.startswith("bn") and t.numel() > 1 and (t == 0).all():
                    continue
                t.copy_(torch.rand_like(t) * 0.02 + (1.0 if name.startswith("scale") else 0))
    net.save(str(path))
    return path


@pytest.mark.slow
def test_resnet50_loads_imagenet_layout_and_trains(tmp_path):
    weights = _imagenet_layout_weights(tmp_path / "resnet50_imagenet_layout.caffemodel")
    lines = []
    rng = np.random.default_rng(0)
    for i in range(4):
        face = rng.integers(0, 256, (48, 48), dtype=np.uint8)
        p = tmp_path / f"face{i}.png"
        cv2.imwrite(str(p), face)
        lines.append(f"{p} {i % 8}")
    listing = tmp_path / "train_images.txt"
    listing.write_text("\n".join(lines) + "\n")
    from caffe_compat.io.prototxt import read_solver
    param = read_solver(str(PROTOTXT / "resnet50_ferplus_solver.prototxt"))
    net_param = read_net(str(PROTOTXT / "resnet50_ferplus_train_val.prototxt"))
    for lp in net_param.layer:
        if lp.type == "ImageData":                 # the list the real-data path writes
            lp.image_data_param.source = str(listing)
            lp.image_data_param.batch_size = 2
    param.ClearField("net")
    param.net_param.CopyFrom(net_param)
    param.max_iter = 2
    param.snapshot = 0
    param.snapshot_prefix = str(tmp_path / "snap")
    del param.test_iter[:]
    param.test_interval = 0
    param.solver_mode = param.CPU
    solver = get_solver(param, weights=[str(weights)])
    net = solver.net
    got = net.params["res2a_branch2a"][0]
    got = got.data if hasattr(got, "data") else got
    src = Net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"), str(weights), phase="test")
    want = src.params["res2a_branch2a"][0]
    want = want.data if hasattr(want, "data") else want
    np.testing.assert_array_equal(np.asarray(torch.as_tensor(got).cpu()),
                                  np.asarray(torch.as_tensor(want).cpu()))  # loaded by name
    before = np.asarray(torch.as_tensor(got).cpu()).copy()
    solver.solve()
    assert solver.iter == 2
    after = solver.net.params["res2a_branch2a"][0]
    after = np.asarray(torch.as_tensor(after.data if hasattr(after, "data") else after).cpu())
    assert not np.array_equal(before, after)                 # it trained
    assert os.path.isfile(weights)
