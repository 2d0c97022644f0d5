"""Write the files the programs of ``benchmarks/programs/`` read: seeded random weights in the
layouts of the public caffemodels, a mean image, label names and test images; and, for the
LeNet programs, LMDBs of stand-in digits (:func:`write_digit_lmdb`).

The net definitions the weights follow are public BVLC files, kept outside the repository:
``../shared/public-nets/benchmark_nets/`` (or ``$RLQ_SHARED/public-nets/benchmark_nets``).

Nothing is downloaded. The weights have the public files' layouts and sizes, not their values:

* ``bvlc_reference_caffenet.caffemodel`` (233 MB): CaffeNet in the V1 ``layers`` format with
  legacy 4-D blob dimensions (num, channels, height, width), as the file of the BVLC model zoo
  is stored, so loading it runs the V1 upgrade as it does for the real file;
* ``bvlc_googlenet.caffemodel`` (28 MB: the deploy net's layers, without the training
  branches the zoo file also holds): GoogLeNet in the current ``layer`` format with
  ``shape`` dimensions;
* ``ilsvrc_2012_mean.npy`` (3 x 256 x 256), ``synset_words.txt`` (1000 labels),
  ``cat.jpg`` (360 x 480) and ``sky.jpg`` (240 x 320): smooth seeded images;
* the three net definitions themselves (``caffenet_deploy.prototxt``,
  ``caffenet_full_conv.prototxt``, ``googlenet_deploy.prototxt``), copied from ``NETS`` so that
  a program finds everything it reads in its working directory.

It also byte-compiles the project's ``caffe`` and ``caffe_compat`` packages, as ``pip install``
does: where ``PYTHONDONTWRITEBYTECODE`` is set (as on the shared benchmark machine) a program
would otherwise compile its ~120 imported modules from source on every run (~0.8 s of
start-up that an installed package never pays).

Usage: ``python benchmarks/program_data.py [DIR]`` (default ``$CAFFE_PROGRAM_DATA`` or
``~/.cache/caffe_compat/programs``). Files already there are kept; ``--force`` rewrites them.
Each program's ``setup(workdir)`` calls :func:`main` with its folder, and the program reads
the files from its working directory (``bench_programs.py`` runs it there).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# CaffeNet deploy, CaffeNet fully convolutional and GoogLeNet deploy (BVLC's files, BSD 2-Clause)
NETS = Path(os.environ.get("RLQ_SHARED", HERE.parents[1] / "shared")) / "public-nets" / \
    "benchmark_nets"
SEED = 45


def net_file(name):
    """``NETS/name``, or a clear stop naming the missing file."""
    path = NETS / name
    if not path.is_file():
        raise SystemExit(f"{path}: the public net definition the programs read is missing "
                         "(../shared/public-nets/benchmark_nets, or set RLQ_SHARED to the "
                         "folder holding public-nets/)")
    return path


def digit_images(count, seed):
    """``count`` 28 x 28 uint8 stand-in digits and their labels (0-9): each class is a fixed
    bar pattern (3 of 7 segment strokes on a 20 x 12 box, a different set per class, chosen
    once from a fixed seed), shifted by up to two pixels and drawn over faint noise, so LeNet
    learns them within a few hundred steps."""
    import itertools
    triples = list(itertools.combinations(range(7), 3))
    shapes = [triples[i] for i in np.random.default_rng(2017).permutation(len(triples))[:10]]
    strokes = [(slice(4, 6), slice(8, 20)), (slice(4, 14), slice(18, 20)),
               (slice(14, 24), slice(18, 20)), (slice(22, 24), slice(8, 20)),
               (slice(14, 24), slice(8, 10)), (slice(4, 14), slice(8, 10)),
               (slice(13, 15), slice(8, 20))]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = (rng.random((count, 28, 28)) * 60).astype(np.uint8)
    for image, label, (dy, dx) in zip(images, labels, rng.integers(-2, 3, (count, 2))):
        for k in shapes[label]:
            rows, cols = strokes[k]
            image[rows.start + dy:rows.stop + dy, cols.start + dx:cols.stop + dx] = 230
    return images, labels


def write_digit_lmdb(path, count, seed):
    """An LMDB of ``count`` Datums (1 x 28 x 28 bytes, integer label) of :func:`digit_images`
    under the keys ``00000000``, ``00000001``, ...: the layout MNIST's LMDBs have in Caffe's
    examples, readable by Caffe's Data layer and ours."""
    import lmdb
    from caffe_compat.proto import caffe_pb2
    images, labels = digit_images(count, seed)
    db = lmdb.open(str(path), map_size=64 << 20)
    with db.begin(write=True) as txn:
        for i in range(count):
            datum = caffe_pb2.Datum()
            datum.channels, datum.height, datum.width = 1, 28, 28
            datum.data = images[i].tobytes()
            datum.label = int(labels[i])
            txn.put(f"{i:08d}".encode(), datum.SerializeToString())
    db.close()


def data_dir(arg=None):
    """The directory the programs read their files from."""
    if arg:
        return Path(arg)
    return Path(os.environ.get("CAFFE_PROGRAM_DATA",
                               Path.home() / ".cache" / "caffe_compat" / "programs"))


def _param_shapes(prototxt):
    """[(layer name, layer type, [blob shape, ...]), ...] of the layers with parameters."""
    import caffe_compat
    net = caffe_compat.Net(str(prototxt), phase="TEST")
    out = []
    for node, key, _, _ in net._nodes:
        blobs = net.layers[key].blobs
        if len(blobs):
            out.append((node.name, node.type, [tuple(b.shape) for b in blobs]))
    return out


def _values(rng, shape, fan_in):
    """Seeded Gaussian values scaled by 1/sqrt(fan_in) (activations stay finite)."""
    return (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(max(fan_in, 1))).astype(
        np.float32)


def _fill_blob(blob, arr, legacy):
    from caffe_compat.io.caffemodel import packed_field
    if legacy:
        dims = (1,) * (4 - arr.ndim) + arr.shape
        blob.num, blob.channels, blob.height, blob.width = dims
    else:
        blob.shape.dim.extend(arr.shape)
    number = blob.DESCRIPTOR.fields_by_name["data"].number
    blob.MergeFromString(packed_field(number, np.ascontiguousarray(arr, "<f4").tobytes()))


def write_caffenet_v1(path, rng):
    """CaffeNet in the V1 ``layers`` format: every layer of the deploy net (V1 enum types,
    bottoms, tops, the layers' settings), blobs with legacy dimensions and blobs_lr /
    weight_decay as the zoo file has them."""
    from caffe_compat.io import prototxt as prototxt_io
    from caffe_compat.io import upgrade
    from caffe_compat.io.caffemodel import write_caffemodel
    from caffe_compat.proto import caffe_pb2
    v1_enum = {name: value for value, name in upgrade.V1_LAYER_TYPE_NAMES.items()}
    deploy = prototxt_io.read_net(str(net_file("caffenet_deploy.prototxt")))
    shapes = {name: s for name, _, s in _param_shapes(net_file("caffenet_deploy.prototxt"))}
    out = caffe_pb2.NetParameter()
    out.name = "CaffeNet"
    v1_fields = set(caffe_pb2.V1LayerParameter.DESCRIPTOR.fields_by_name)
    for layer in deploy.layer:
        if layer.type == "Input":
            continue
        v1 = out.layers.add()
        v1.name = layer.name
        v1.type = v1_enum[layer.type]
        v1.bottom.extend(layer.bottom)
        v1.top.extend(layer.top)
        for field, value in layer.ListFields():
            if field.name.endswith("_param") and field.name in v1_fields:
                getattr(v1, field.name).CopyFrom(value)
        for shape in shapes.get(layer.name, []):
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            arr = _values(rng, shape, fan_in) if len(shape) > 1 else np.full(
                shape, 0.1, np.float32)
            _fill_blob(v1.blobs.add(), arr, legacy=True)
        if layer.name in shapes:
            v1.blobs_lr.extend([1.0, 2.0])
            v1.weight_decay.extend([1.0, 0.0])
    write_caffemodel(out, path)


def write_googlenet(path, rng):
    """GoogLeNet in the current format, ``shape`` dimensions."""
    from caffe_compat.io.caffemodel import write_caffemodel
    from caffe_compat.proto import caffe_pb2
    out = caffe_pb2.NetParameter()
    out.name = "GoogleNet"
    for name, kind, shapes in _param_shapes(net_file("googlenet_deploy.prototxt")):
        layer = out.layer.add()
        layer.name, layer.type = name, kind
        for shape in shapes:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            arr = _values(rng, shape, fan_in) if len(shape) > 1 else np.full(
                shape, 0.2, np.float32)
            _fill_blob(layer.blobs.add(), arr, legacy=False)
    write_caffemodel(out, path)


def smooth_image(rng, height, width):
    """A smooth RGB image in [0, 1] (low-frequency noise, upsampled)."""
    import cv2
    small = rng.random((height // 16 + 1, width // 16 + 1, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


def write_image(path, img):
    import cv2
    bgr = (img[:, :, ::-1] * 255).round().astype(np.uint8)
    if not cv2.imwrite(str(path), bgr):
        raise OSError(f"{path}: cannot write the image")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", help="output directory")
    parser.add_argument("--force", action="store_true", help="rewrite existing files")
    args = parser.parse_args(argv)
    out = data_dir(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    writers = {
        "bvlc_reference_caffenet.caffemodel":
            lambda p, r: write_caffenet_v1(p, r),
        "bvlc_googlenet.caffemodel": lambda p, r: write_googlenet(p, r),
        "ilsvrc_2012_mean.npy":
            lambda p, r: np.save(p, (100 + 40 * r.random((3, 256, 256))).astype(np.float64)),
        "synset_words.txt":
            lambda p, r: p.write_text("".join(f"n{i:08d} class {i}\n" for i in range(1000))),
        "cat.jpg": lambda p, r: write_image(p, smooth_image(r, 360, 480)),
        "sky.jpg": lambda p, r: write_image(p, smooth_image(r, 240, 320)),
    }
    for name in ("caffenet_deploy.prototxt", "caffenet_full_conv.prototxt",
                 "googlenet_deploy.prototxt"):
        shutil.copyfile(net_file(name), out / name)
    import compileall
    root = HERE.parent
    for package in ("caffe", "caffe_compat"):
        compileall.compile_dir(str(root / package), quiet=1)
    for i, (name, write) in enumerate(writers.items()):
        path = out / name
        if path.exists() and not args.force:
            continue
        write(path, np.random.default_rng(SEED + i))
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
