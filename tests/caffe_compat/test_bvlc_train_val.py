"""Caffe's public train/val files (../shared/public-nets/bvlc_nets: AlexNet, CaffeNet, GoogLeNet,
SqueezeNet, LeNet, siamese, autoencoder, cifar10, flickr-style and PASCAL finetuning, feature
extraction) build in both phases once their sources exist. The files are others' and stay
outside the repository: each test skips, naming its file, where ../shared is absent.

Each test works in a temporary folder (Caffe resolves sources against the working directory)
where it creates, at the paths the file names, a tiny database of Datums of the dataset's
shape (ImageNet 3x256x256, CIFAR-10 3x32x32, MNIST 1x28x28, siamese pairs 2x28x28), mean
files, image lists with images, and R-CNN window files. The small nets also run a forward
pass in each phase.
"""
import pathlib

import cv2
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.data import db as db_io
from caffe_compat.data.images import raw_datum
from caffe_compat.io import prototxt as prototxt_io
from caffe_compat.io.upgrade import upgrade_net
from caffe_compat.layers import registered_types
from caffe_compat.proto import caffe_pb2
from tests.conftest import public_input

# file -> (nets to build as (phase, stages), run a forward pass)
CASES = {
    "bvlc_alexnet__train_val.prototxt": ([("train", []), ("test", [])], False),
    "bvlc_reference_caffenet__train_val.prototxt": ([("train", []), ("test", [])], False),
    "bvlc_googlenet__train_val.prototxt": ([("train", []), ("test", [])], False),
    "SqueezeNet_v1.0__train_val.prototxt": ([("train", []), ("test", [])], False),
    "SqueezeNet_v1.1__train_val.prototxt": ([("train", []), ("test", [])], False),
    "finetune_flickr_style__train_val.prototxt": ([("train", []), ("test", [])], False),
    "feature_extraction__imagenet_val.prototxt": ([("train", []), ("test", [])], False),
    "finetune_pascal_detection__pascal_finetune_trainval_test.prototxt":
        ([("train", []), ("test", [])], False),
    "mnist__lenet_train_test.prototxt": ([("train", []), ("test", [])], True),
    "mnist__mnist_autoencoder.prototxt":
        ([("train", []), ("test", ["test-on-train"]), ("test", ["test-on-test"])], True),
    "mnist__lenet_consolidated_solver.prototxt":
        ([("train", []), ("test", ["test-on-train-set"]), ("test", ["test-on-test-set"])],
         True),
    "siamese__mnist_siamese_train_test.prototxt": ([("train", []), ("test", [])], True),
    "cifar10__cifar10_quick_train_test.prototxt": ([("train", []), ("test", [])], True),
    "cifar10__cifar10_full_train_test.prototxt": ([("train", []), ("test", [])], False),
    "cifar10__cifar10_full_sigmoid_train_test.prototxt": ([("train", []), ("test", [])], False),
    "cifar10__cifar10_full_sigmoid_train_test_bn.prototxt":
        ([("train", []), ("test", [])], False),
}


def _item_shape(source):
    """The Datum shape of the dataset a source path names."""
    if "ilsvrc12" in source:
        return (3, 256, 256)
    if "cifar10" in source:
        return (3, 32, 32)
    if "siamese" in source:
        return (2, 28, 28)
    if "mnist" in source:
        return (1, 28, 28)
    raise AssertionError(f"no dataset shape known for {source}")


def _write_mean(path, shape):
    path = pathlib.Path(path)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = caffe_pb2.BlobProto()
    blob.num, (blob.channels, blob.height, blob.width) = 1, shape
    blob.data.extend(np.full(int(np.prod(shape)), 100.0, dtype=np.float32).tolist())
    path.write_bytes(blob.SerializeToString())


def _write_images(folder, n, size=(300, 280)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        name = folder / f"img{i}.jpg"
        cv2.imwrite(str(name), rng.integers(0, 256, size + (3,), dtype=np.uint8))
        names.append(name)
    return names


def _make_sources(net_param, root):
    """Create every source and mean file ``net_param``'s data layers name, under ``root``."""
    rng = np.random.default_rng(1)
    for lp in net_param.layer:
        tp = lp.transform_param
        if lp.type == "Data":
            src = root / lp.data_param.source
            shape = _item_shape(lp.data_param.source)
            if tp.mean_file:
                _write_mean(root / tp.mean_file, shape)
            if src.exists():
                continue
            src.parent.mkdir(parents=True, exist_ok=True)
            with db_io.create_db(src, db_io.backend_name(lp.data_param.backend)) as w:
                for i in range(3):
                    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
                    w.put(f"{i:08d}".encode(), raw_datum(pixels, i % 10).SerializeToString())
        elif lp.type == "ImageData":
            if tp.mean_file:
                _write_mean(root / tp.mean_file, (3, 256, 256))
            lst = root / lp.image_data_param.source
            lst.parent.mkdir(parents=True, exist_ok=True)
            images = _write_images(root / "images", 2)
            lst.write_text("".join(f"{p.relative_to(root)} {i}\n" for i, p in enumerate(images)))
        elif lp.type == "WindowData":
            if tp.mean_file:
                _write_mean(root / tp.mean_file, (3, 256, 256))
            wf = root / lp.window_data_param.source
            wf.parent.mkdir(parents=True, exist_ok=True)
            images = _write_images(root / "windows", 2)
            text = ""
            for i, p in enumerate(images):
                text += (f"# {i}\n{p.relative_to(root)}\n3\n300\n280\n3\n"
                         "1 0.9 10 20 200 250\n0 0.1 0 0 100 120\n2 0.6 50 40 279 299\n")
            wf.write_text(text)


def _load(name):
    path = public_input("public-nets", "bvlc_nets", name)
    if name.endswith("_solver.prototxt"):
        return upgrade_net(prototxt_io.read_solver(path).net_param)
    return prototxt_io.read_net(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_train_val_builds_in_both_phases(name, tmp_path, monkeypatch):
    net_param = _load(name)
    missing = {lp.type for lp in net_param.layer} - set(registered_types())
    if missing:
        pytest.skip(f"layer type(s) {sorted(missing)} not registered yet")
    monkeypatch.chdir(tmp_path)
    _make_sources(net_param, tmp_path)
    builds, forward = CASES[name]
    for phase, stages in builds:
        net = Net(net_param, phase=phase, stages=stages, seed=1)
        data = [n for n, key, _, _ in net._nodes if net.layers[key].is_data]
        assert data, f"{name} {phase} {stages}: no data layer"
        if forward:
            out = net.forward()
            assert all(np.isfinite(v.detach().numpy()).all() for v in out.values())
        for _, key, _, _ in net._nodes:
            close = getattr(net.layers[key], "close", None)
            if close:
                close()


def test_sources_named_by_a_missing_database_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net_param = _load("mnist__lenet_train_test.prototxt")
    from caffe_compat.errors import CaffeCompatError
    with pytest.raises(CaffeCompatError) as e:
        Net(net_param, phase="train")
    msg = str(e.value)
    assert "mnist" in msg and "examples/mnist/mnist_train_lmdb" in msg
    assert "does not exist" in msg

