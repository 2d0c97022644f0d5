"""The pycaffe programs of scripts/, run under whichever ``caffe`` is importable: real BVLC
Caffe 1.0's pycaffe (make_fixtures.py) or this project's package
(tests/pycaffe/test_public_programs.py).

Each program runs in a scratch directory laid out as it expects (the notebook-style ones from
``ROOT/examples``), with generated stand-in data (LMDBs of 28x28 digit patterns instead of
MNIST, seeded images, a caffemodel of seeded values) and the public net definitions it reads
copied in from ``../shared/public-nets/`` (``Program.shared``; the caller says where that
folder is). ``collect`` picks the values compared with real Caffe's.
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
import runpy
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
STAND_INS = HERE / "stand_ins"
TINY = HERE.parent / "fixtures" / "classifier"      # a small classifier real Caffe initialised
EXAMPLES = "public-nets/pycaffe_examples/examples"    # under ../shared

# Caffe's stream is seeded before each program (caffe.set_random_seed), as a harness would:
# a solver whose parameters set no random_seed otherwise draws its fillers from /dev/urandom,
# in Caffe too.
HARNESS_SEED = 1701


# ----------------------------------------------------------------------------- stand-in data
def digits(count, seed):
    """``count`` 28x28 uint8 images of ten class patterns with noise, and their labels: an
    MNIST stand-in a linear classifier and LeNet learn from."""
    rng = np.random.RandomState(seed)
    templates = np.random.RandomState(12345).rand(10, 28, 28) > 0.7
    labels = rng.randint(0, 10, count).astype(np.int64)
    noise = rng.rand(count, 28, 28)
    images = np.where(templates[labels], 160 + 95 * noise, 90 * noise)
    return images.astype(np.uint8), labels


def write_digit_lmdb(path, count, seed):
    """An LMDB of ``digits(count, seed)`` as Datums, keyed ``%08d`` as Caffe's
    convert_mnist_data writes them."""
    import lmdb
    from caffe.proto import caffe_pb2
    images, labels = digits(count, seed)
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, (image, label) in enumerate(zip(images, labels)):
            datum = caffe_pb2.Datum(channels=1, height=28, width=28, data=image.tobytes(),
                                    label=int(label))
            txn.put(b"%08d" % i, datum.SerializeToString())
    env.close()


def write_idx(path_images, path_labels, count, seed):
    """MNIST's idx3/idx1 files (big-endian headers) holding ``digits(count, seed)``."""
    images, labels = digits(count, seed)
    with open(path_images, "wb") as f:
        f.write(np.array([2051, count, 28, 28], ">i4").tobytes() + images.tobytes())
    with open(path_labels, "wb") as f:
        f.write(np.array([2049, count], ">i4").tobytes() + labels.astype(np.uint8).tobytes())


def write_seeded_caffemodel(path, shapes, seed):
    """A caffemodel holding, per layer, blobs of the given shapes drawn from
    U(-sqrt(3 / fan_in), sqrt(3 / fan_in)) of numpy's RandomState(seed) (the same bytes under
    any pycaffe: the NetParameter is written with protobuf alone)."""
    from caffe.proto import caffe_pb2
    rng = np.random.RandomState(seed)
    net = caffe_pb2.NetParameter()
    for name, blob_shapes in shapes:
        layer = net.layer.add(name=name)
        fan_in = int(np.prod(blob_shapes[0][1:]))
        for shape in blob_shapes:
            bound = np.sqrt(3.0 / fan_in)
            values = rng.uniform(-bound, bound, shape).astype(np.float32)
            blob = layer.blobs.add()
            blob.shape.dim.extend(shape)
            blob.data.extend(values.ravel().tolist())
    pathlib.Path(path).write_bytes(net.SerializeToString())


# ----------------------------------------------------------------------------- programs
@dataclass
class Program:
    name: str
    script: str                       # file name under scripts/
    prepare: Callable                 # prepare(root) writes the stand-in data under root
    collect: Callable                 # collect(namespace, root, stdout) -> {key: array or str}
    runs: tuple = ()                  # a command-line program's argument lists, run in turn;
    #                                   empty: a notebook-style script, run once top to bottom
    cwd: str = "examples"             # working directory, relative to root
    shared: dict = field(default_factory=dict)   # {dest under root: path under ../shared}


def _copy(root, mapping):
    for dest, src in mapping.items():
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)


def _prepare_mnist_lmdbs(root):
    mnist = root / "examples" / "mnist"
    mnist.mkdir(parents=True, exist_ok=True)
    write_digit_lmdb(mnist / "mnist_train_lmdb", 640, seed=1)
    write_digit_lmdb(mnist / "mnist_test_lmdb", 500, seed=2)


def _collect_walkthrough(ns, root, stdout):
    solver = ns["solver"]
    return {
        "stdout": stdout,
        "losses": np.asarray(ns["losses"], np.float64),
        "accuracies": np.asarray(ns["accuracies"], np.float64),
        "first_batch_scores": np.asarray(ns["first_batch_scores"], np.float64),
        "first_step_conv1_diff": np.asarray(ns["first_step_conv1_diff"]).copy(),
        "conv1_weights": solver.net.params["conv1"][0].data.copy(),
        "score_weights": solver.net.params["score"][0].data.copy(),
        "train_prototxt": (root / "examples/mnist/lenet_auto_train.prototxt").read_text(),
        "iter": np.asarray(solver.iter),
    }


def _collect_custom_solver(ns, root, stdout):
    solver = ns["solver"]
    return {
        "stdout": stdout,
        "losses": np.asarray(ns["losses"], np.float64),
        "accuracies": np.asarray(ns["accuracies"], np.float64),
        "score_weights": solver.net.params["score"][0].data.copy(),
        "score_bias": solver.net.params["score"][1].data.copy(),
        "train_label": solver.net.blobs["label"].data.copy(),
        "test_score": solver.test_nets[0].blobs["score"].data.copy(),
        "train_prototxt": (root / "examples/mnist/linear_train.prototxt").read_text(),
        "solver_prototxt": (root / "examples/mnist/linear_solver.prototxt").read_text(),
        "iter": np.asarray(solver.iter),
    }


def _prepare_designer_filters(root):
    _copy(root, {"examples/images/cat_gray.jpg": STAND_INS / "cat_gray.jpg"})


def _collect_designer_filters(ns, root, stdout):
    net = ns["net"]
    return {"stdout": stdout,
            "conv": net.blobs["conv"].data.copy(),
            "first_map": np.asarray(ns["first_map"]).copy(),
            "weights": net.params["conv"][0].data.copy(),
            "bias": net.params["conv"][1].data.copy(),
            "image": np.asarray(ns["image"]).copy()}


SIAMESE_SHAPES = (("conv1", ((20, 1, 5, 5), (20,))), ("conv2", ((50, 20, 5, 5), (50,))),
                  ("ip1", ((500, 800), (500,))), ("ip2", ((10, 500), (10,))),
                  ("feat", ((2, 10), (2,))))


def _prepare_siamese(root):
    siamese = root / "examples" / "siamese"
    siamese.mkdir(parents=True, exist_ok=True)
    write_seeded_caffemodel(siamese / "mnist_siamese_iter_50000.caffemodel", SIAMESE_SHAPES, 7)
    data = root / "data" / "mnist"
    data.mkdir(parents=True)
    write_idx(data / "t10k-images-idx3-ubyte", data / "t10k-labels-idx1-ubyte", 10000, seed=3)


def _collect_siamese(ns, root, stdout):
    return {"stdout": stdout, "features": np.asarray(ns["features"]).copy(),
            "labels": np.asarray(ns["digit_labels"]).copy()}


def _prepare_classify(root):
    _copy(root, {"models/tiny/deploy.prototxt": TINY / "tiny.prototxt",
                 "models/tiny/tiny.caffemodel": TINY / "tiny.caffemodel",
                 "images/cat.jpg": STAND_INS / "cat.jpg"})
    np.save(root / "mean.npy", np.array([104.0, 117.0, 123.0]))
    np.save(root / "images.npy", digits(3, seed=4)[0][..., None].repeat(3, -1) / 255.0)


def _collect_classify(ns, root, stdout):
    return {"stdout": stdout,
            "single": np.load(root / "single.npy"),
            "batch": np.load(root / "batch.npy")}


def _collect_caffenet(ns, root, stdout):
    return {"stdout": stdout,
            "train_prototxt": (root / "caffenet_train.prototxt").read_text(),
            "test_prototxt": (root / "caffenet_test.prototxt").read_text()}


def _collect_draw_net(ns, root, stdout):
    return {"stdout": stdout,
            **{name: (root / f"{name}.canon").read_text()
               for name in ("lenet_all_lr", "lenet_train_tb_lr", "lenet_test_bt")}}


def _nothing(root):
    pass


_TINY_NET = ("--deploy", "models/tiny/deploy.prototxt", "--weights", "models/tiny/tiny.caffemodel")
_LENET_TRAIN_TEST = "examples/mnist/lenet_train_test.prototxt"

PROGRAMS = {p.name: p for p in (
    # a seeded solver written from Python, a linear classifier stepped 250 times with a
    # 100-batch test every 25
    Program("lenet_custom_solver", "lenet_custom_solver.py", _prepare_mnist_lmdbs,
            _collect_custom_solver),
    # LeNet written with NetSpec, the solver of lenet_auto_solver.prototxt stepped by hand 200
    # times with a 100-batch test every 25 (about a minute: slow suite)
    Program("lenet_walkthrough", "lenet_walkthrough.py", _prepare_mnist_lmdbs,
            _collect_walkthrough,
            shared={"examples/mnist/lenet_auto_solver.prototxt":
                    f"{EXAMPLES}/mnist/lenet_auto_solver.prototxt"}),
    # hand-made filters set through net.params in a one-convolution net
    Program("designer_filters", "designer_filters.py", _prepare_designer_filters,
            _collect_designer_filters,
            shared={"examples/net_surgery/conv.prototxt":
                    f"{EXAMPLES}/net_surgery/conv.prototxt"}),
    # 10000 digits through the siamese feature net with forward_all (slow suite)
    Program("siamese_embedding", "siamese_embedding.py", _prepare_siamese, _collect_siamese,
            cwd="examples/siamese",
            shared={"examples/siamese/mnist_siamese.prototxt":
                    f"{EXAMPLES}/siamese/mnist_siamese.prototxt"}),
    # the classifier command line on one image file (ten crops), then on a .npy of three
    # images (center crop, no mean, no channel swap)
    Program("classify_cli", "classify_cli.py", _prepare_classify, _collect_classify,
            runs=(("images/cat.jpg", "single.npy", *_TINY_NET, "--resize", "32,32",
                   "--mean", "mean.npy"),
                  ("images.npy", "batch.npy", *_TINY_NET, "--resize", "28,28", "--center",
                   "--raw-scale", "200", "--order", "")),
            cwd="."),
    # LeNet's train/test definition drawn in Graphviz's canonical DOT form (the graph
    # caffe.draw builds, without layout): all phases left to right; the TRAIN phase top to
    # bottom with learning-rate multipliers; the TEST phase bottom to top
    Program("draw_net_cli", "draw_net_cli.py", _nothing, _collect_draw_net,
            runs=((_LENET_TRAIN_TEST, "lenet_all_lr.canon"),
                  (_LENET_TRAIN_TEST, "lenet_train_tb_lr.canon", "--phase", "train",
                   "--direction", "TB", "--show-lr"),
                  (_LENET_TRAIN_TEST, "lenet_test_bt.canon", "--phase", "test",
                   "--direction", "BT")),
            cwd=".",
            shared={_LENET_TRAIN_TEST: f"{EXAMPLES}/mnist/lenet_train_test.prototxt"}),
    # CaffeNet's train and test definitions written with NetSpec
    Program("caffenet_spec", "caffenet_spec.py", _nothing, _collect_caffenet,
            runs=((".",),), cwd="."),
)}

SLOW = {"lenet_walkthrough", "siamese_embedding"}
NEEDS_GRAPHVIZ = {"draw_net_cli"}     # Graphviz's dot program writes draw_net_cli's output


@contextlib.contextmanager
def _scratch_process_state(cwd):
    """The program's working directory; the process's directory, sys.path and sys.argv
    restored afterwards."""
    saved = (os.getcwd(), list(sys.path), list(sys.argv))
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved[0])
        sys.path[:] = saved[1]
        sys.argv[:] = saved[2]


def run(name, root, shared):
    """Run program ``name`` in the scratch directory ``root``; returns collect's dict.
    ``shared(relative_path)`` gives the path of a file under ../shared (the caller decides
    what happens when it is absent)."""
    import caffe
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    program = PROGRAMS[name]
    root = pathlib.Path(root)
    _copy(root, {dest: shared(src) for dest, src in program.shared.items()})
    program.prepare(root)
    caffe.set_random_seed(HARNESS_SEED)
    script = str(SCRIPTS / program.script)
    out = io.StringIO()
    cwd = root / program.cwd
    cwd.mkdir(parents=True, exist_ok=True)
    with _scratch_process_state(cwd), contextlib.redirect_stdout(out):
        if not program.runs:
            sys.argv[:] = [script]
            namespace = runpy.run_path(script, run_name="__main__")
        for argv in program.runs:
            sys.argv[:] = [script, *argv]
            namespace = runpy.run_path(script, run_name="__main__")
    plt.close("all")
    return program.collect(namespace, root, out.getvalue())
