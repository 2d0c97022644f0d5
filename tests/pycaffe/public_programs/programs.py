"""Public pycaffe programs run as their authors wrote them, under whichever ``caffe`` is
importable: real BVLC Caffe 1.0's pycaffe (make_fixtures.py) or this project's package
(tests/pycaffe/test_public_programs.py).

A program is a Caffe example notebook's code cells (sources/bvlc_caffe/notebooks/*.cells.txt,
written verbatim by extract_cells.py) or a script (sources/bvlc_caffe/python, examples). It
runs in a scratch copy of the directory layout it expects (``ROOT/examples`` as the working
directory of the notebooks), with small generated stand-ins for the data it reads (LMDBs of
28x28 Datums instead of MNIST, an image instead of ``cat_gray.jpg``, a caffemodel of seeded
values instead of a trained one). ``collect`` picks the values compared with real Caffe's.

The notebooks are Python 2 IPython documents; the runner does what Jupyter and a Python 3
port would do, and nothing else (PORT_RULES below, applied to the text of every cell), plus the
per-program edits listed in each Program's ``edits`` (each with its reason).
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re
import runpy
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = HERE / "sources" / "bvlc_caffe"
STAND_INS = HERE / "stand_ins"
TINY = HERE.parent / "fixtures" / "classifier"      # real Caffe's tiny classifier (BSD-2 net)

# Caffe's stream is seeded before each program (caffe.set_random_seed), as a harness would:
# programs whose solver sets no random_seed otherwise draw their fillers from /dev/urandom.
HARNESS_SEED = 1701

PORT_RULES = (
    "a first line `%%time` / `%%timeit` (cell magic) is dropped: the body runs once",
    "an IPython line magic (`%...`) or shell escape (`!...`) line becomes `pass`",
    "a Python 2 print statement `print x, y` becomes `print(x, y)`",
)

_CELL_MAGIC = re.compile(r"^%%(time|timeit)\b.*\n")
_LINE_MAGIC = re.compile(r"^(\s*)[%!].*$", re.M)
_PRINT_STATEMENT = re.compile(r"^(\s*)print (?!\()(.*)$", re.M)


def port_cell(source):
    """The cell's text after PORT_RULES."""
    source = _CELL_MAGIC.sub("", source, count=1)
    source = _LINE_MAGIC.sub(r"\1pass", source)
    return _PRINT_STATEMENT.sub(r"\1print(\2)", source)


def read_cells(path):
    """{cell index: source} of a cells file written by extract_cells.py."""
    cells = {}
    for part in path.read_text(encoding="utf-8").split("# %% cell ")[1:]:
        index, _, source = part.partition("\n")
        cells[int(index)] = source[:-1] if source.endswith("\n") else source
    return cells


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
    """An LMDB of Datums as Caffe's convert_mnist_data writes them (keys ``%08d``)."""
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
    source: str                       # path under sources/bvlc_caffe
    prepare: Callable                 # prepare(root) builds the stand-in tree under root
    collect: Callable                 # collect(namespace, root, stdout) -> {key: array or str}
    cells: tuple = ()                 # notebook cells run, in order (empty: a script)
    argv: tuple = ()                  # a script's arguments ({root} is replaced)
    cwd: str = "examples"             # working directory, relative to root
    edits: tuple = ()                 # (old, new, reason): literal edits of the program text
    inputs: dict = field(default_factory=dict)   # stand-in files copied in: {dest: source}


def _copy_sources(root, mapping):
    for dest, src in mapping.items():
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)


def _prepare_lenet(root):
    mnist = root / "examples" / "mnist"
    mnist.mkdir(parents=True, exist_ok=True)
    write_digit_lmdb(mnist / "mnist_train_lmdb", 640, seed=1)
    write_digit_lmdb(mnist / "mnist_test_lmdb", 500, seed=2)
    _copy_sources(root, {"examples/mnist/lenet_auto_solver.prototxt":
                         SOURCES / "examples/mnist/lenet_auto_solver.prototxt"})
    (root / "python").mkdir(exist_ok=True)


def _collect_lenet_custom(ns, root, stdout):
    solver = ns["solver"]
    return {
        "stdout": stdout,
        "train_loss": np.asarray(ns["train_loss"], np.float64),
        "test_acc": np.asarray(ns["test_acc"], np.float64),
        "score_weights": solver.net.params["score"][0].data.copy(),
        "score_bias": solver.net.params["score"][1].data.copy(),
        "train_label": solver.net.blobs["label"].data.copy(),
        "test_score": solver.test_nets[0].blobs["score"].data.copy(),
        "train_prototxt": (root / "examples/mnist/custom_auto_train.prototxt").read_text(),
        "solver_prototxt": (root / "examples/mnist/custom_auto_solver.prototxt").read_text(),
        "iter": np.asarray(solver.iter),
    }


def _collect_lenet(ns, root, stdout):
    solver = ns["solver"]
    return {
        "stdout": stdout,
        "train_loss": np.asarray(ns["train_loss"], np.float64),
        "test_acc": np.asarray(ns["test_acc"], np.float64),
        "output": np.asarray(ns["output"], np.float64),
        "conv1_weights": solver.net.params["conv1"][0].data.copy(),
        "score_weights": solver.net.params["score"][0].data.copy(),
        "iter": np.asarray(solver.iter),
    }


def _prepare_net_surgery(root):
    _copy_sources(root, {"examples/net_surgery/conv.prototxt":
                         SOURCES / "examples/net_surgery/conv.prototxt",
                         "examples/images/cat_gray.jpg": STAND_INS / "cat_gray.jpg"})


def _collect_net_surgery(ns, root, stdout):
    net = ns["net"]
    return {"stdout": stdout,
            "conv": net.blobs["conv"].data.copy(),
            "conv0": np.asarray(ns["conv0"]).copy(),
            "weights": net.params["conv"][0].data.copy(),
            "bias": net.params["conv"][1].data.copy(),
            "im": np.asarray(ns["im"]).copy()}


SIAMESE_SHAPES = (("conv1", ((20, 1, 5, 5), (20,))), ("conv2", ((50, 20, 5, 5), (50,))),
                  ("ip1", ((500, 800), (500,))), ("ip2", ((10, 500), (10,))),
                  ("feat", ((2, 10), (2,))))


def _prepare_siamese(root):
    siamese = root / "examples" / "siamese"
    _copy_sources(root, {"examples/siamese/mnist_siamese.prototxt":
                         SOURCES / "examples/siamese/mnist_siamese.prototxt"})
    write_seeded_caffemodel(siamese / "mnist_siamese_iter_50000.caffemodel", SIAMESE_SHAPES, 7)
    data = root / "data" / "mnist"
    data.mkdir(parents=True)
    write_idx(data / "t10k-images-idx3-ubyte", data / "t10k-labels-idx1-ubyte", 10000, seed=3)


def _collect_siamese(ns, root, stdout):
    return {"stdout": stdout, "feat": ns["feat"].copy(), "labels": ns["labels"].copy()}


def _prepare_classify(root):
    _copy_sources(root, {"python/classify.py": SOURCES / "python/classify.py",
                         "models/tiny/deploy.prototxt": TINY / "tiny.prototxt",
                         "models/tiny/tiny.caffemodel": TINY / "tiny.caffemodel",
                         "images/cat.jpg": STAND_INS / "cat.jpg"})
    np.save(root / "mean.npy", np.array([104.0, 117.0, 123.0]))
    np.save(root / "images.npy", digits(3, seed=4)[0][..., None].repeat(3, -1) / 255.0)


def _collect_classify(ns, root, stdout):
    lines = [line for line in stdout.splitlines() if not line.startswith("Done in ")]
    return {"stdout": "\n".join(lines),
            "single": np.load(root / "single.npy"),
            "batch": np.load(root / "batch.npy")}


def _prepare_caffenet(root):
    _copy_sources(root, {"examples/pycaffe/caffenet.py":
                         SOURCES / "examples/pycaffe/caffenet.py"})


def _collect_caffenet(ns, root, stdout):
    return {"stdout": stdout,
            "train_prototxt": (root / "examples/pycaffe/train.prototxt").read_text(),
            "test_prototxt": (root / "examples/pycaffe/test.prototxt").read_text()}


def _prepare_draw_net(root):
    _copy_sources(root, {"examples/mnist/lenet_train_test.prototxt":
                         SOURCES / "examples/mnist/lenet_train_test.prototxt"})


def _collect_draw_net(ns, root, stdout):
    return {"stdout": stdout,
            "lenet_canon": (root / "lenet.canon").read_text(),
            "lenet_train_tb_lrm_canon": (root / "lenet_train_tb_lrm.canon").read_text()}


_CPU = ("the oracle is a CPU-only build (Caffe aborts on set_device there); this package "
        "runs the CPU path too")
_PY3_DIVISION = "Python 2's integer division (`niter / 10` is 25 there, 25.0 in Python 3, " \
                "which numpy refuses as an index)"

PROGRAMS = {p.name: p for p in (
    # 01-learning-lenet, the notebook's own program of section 5: the seeded custom solver
    # (a linear classifier over the LMDB), stepped 250 times with a test every 25
    Program("lenet_custom_solver", "notebooks/01-learning-lenet.cells.txt", _prepare_lenet,
            _collect_lenet_custom, cells=(3, 5, 7, 9, 36),
            edits=(("test_interval = niter / 10", "test_interval = niter // 10",
                    _PY3_DIVISION),)),
    # 01-learning-lenet, sections 1-4: LeNet built with NetSpec, stepped by hand for 200
    # iterations with a full 100-batch test every 25 (about a minute: slow suite)
    Program("lenet_tutorial", "notebooks/01-learning-lenet.cells.txt", _prepare_lenet,
            _collect_lenet, cells=(3, 5, 7, 9, 15, 17, 18, 20, 21, 22, 24, 26, 28, 30, 32, 34),
            edits=(("caffe.set_device(0)\ncaffe.set_mode_gpu()", "caffe.set_mode_cpu()",
                    _CPU),)),
    # net_surgery, section 1 (editing model parameters: designer filters)
    Program("net_surgery_designer_filters", "notebooks/net_surgery.cells.txt",
            _prepare_net_surgery, _collect_net_surgery, cells=(1, 3, 5, 7, 9)),
    # siamese/mnist_siamese: 10000 images through the siamese feature net (slow suite)
    Program("mnist_siamese", "notebooks/mnist_siamese.cells.txt", _prepare_siamese,
            _collect_siamese, cells=(1, 3, 5, 7, 9), cwd="examples/siamese",
            edits=(("np.fromstring(", "np.frombuffer(",
                    "numpy 2 removed fromstring's binary mode; frombuffer reads the same "
                    "bytes"),) * 2),
    # python/classify.py on one image file, then on a .npy of three images
    Program("classify_py", "python/classify.py", _prepare_classify, _collect_classify,
            argv=(("images/cat.jpg", "single.npy", "--model_def", "models/tiny/deploy.prototxt",
                   "--pretrained_model", "models/tiny/tiny.caffemodel", "--images_dim", "32,32",
                   "--mean_file", "mean.npy"),
                  ("images.npy", "batch.npy", "--model_def", "models/tiny/deploy.prototxt",
                   "--pretrained_model", "models/tiny/tiny.caffemodel", "--images_dim", "28,28",
                   "--mean_file", "", "--center_only", "--raw_scale", "200",
                   "--channel_swap", "")),
            cwd="."),
    # python/draw_net.py: LeNet's train/test definition drawn by Graphviz in its canonical
    # DOT form (the graph caffe.draw builds, without layout), all phases, then the TRAIN
    # phase top to bottom with learning-rate multipliers
    Program("draw_net_py", "python/draw_net.py", _prepare_draw_net, _collect_draw_net,
            argv=(("examples/mnist/lenet_train_test.prototxt", "lenet.canon"),
                  ("--phase", "TRAIN", "--rankdir", "TB", "--display_lrm",
                   "examples/mnist/lenet_train_test.prototxt", "lenet_train_tb_lrm.canon")),
            cwd="."),
    # examples/pycaffe/caffenet.py: writes CaffeNet's train and test definitions
    Program("caffenet_py", "examples/pycaffe/caffenet.py", _prepare_caffenet, _collect_caffenet,
            argv=((),), cwd="examples/pycaffe"),
)}

SLOW = {"lenet_tutorial", "mnist_siamese"}
NEEDS_GRAPHVIZ = {"draw_net_py"}     # Graphviz's dot program writes draw_net.py's output


def program_text(program):
    """The program's code as it runs: its cells (or script) after PORT_RULES and its edits."""
    path = SOURCES / program.source
    if program.cells:
        cells = read_cells(path)
        text = "\n".join(port_cell(cells[i]) for i in program.cells)
    else:
        text = path.read_text(encoding="utf-8")
    for old, new, _reason in program.edits:
        if old not in text:
            raise ValueError(f"{program.name}: edit {old!r} does not apply")
        text = text.replace(old, new, 1)
    return text


@contextlib.contextmanager
def _scratch_process_state(cwd):
    """The program's working directory; the process's directory, sys.path (the notebooks put
    ``caffe_root + 'python'`` first) and sys.argv restored afterwards."""
    saved = (os.getcwd(), list(sys.path), list(sys.argv))
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved[0])
        sys.path[:] = saved[1]
        sys.argv[:] = saved[2]


def run(name, root):
    """Run program ``name`` in the scratch directory ``root``; returns collect's dict."""
    import caffe
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    program = PROGRAMS[name]
    root = pathlib.Path(root)
    program.prepare(root)
    caffe.set_random_seed(HARNESS_SEED)
    text = program_text(program)
    out = io.StringIO()
    namespace = {"__name__": "__main__"}
    cwd = root / program.cwd
    cwd.mkdir(parents=True, exist_ok=True)
    with _scratch_process_state(cwd), contextlib.redirect_stdout(out):
        if program.cells:
            exec(compile(text, f"{program.source} ({name})", "exec"), namespace)
        else:
            assert not program.edits, "scripts run from their committed file, unedited"
            for argv in program.argv:
                sys.argv[:] = [str(SOURCES / program.source)] + list(argv)
                namespace = runpy.run_path(sys.argv[0], run_name="__main__")
    plt.close("all")
    return program.collect(namespace, root, out.getvalue())
