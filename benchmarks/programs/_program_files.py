"""The set-up the programs share, run by their ``setup`` as ``python PROGRAM.py setup WORKDIR``
(this folder is then the script's own, first on ``sys.path``; the runner skips files named
``_*``). ``benchmarks/program_data.py`` writes the files:

- :func:`write`: the CaffeNet and GoogLeNet programs' net definitions, seeded random weights in
  the public files' layouts, images, mean and labels;
- :func:`write_mnist`: the LeNet programs' stand-in digits, ``examples/mnist/mnist_train_lmdb``
  (640 images) and ``mnist_test_lmdb`` (500), where Caffe's MNIST example keeps its LMDBs.
"""
import importlib.util
import os

TRAIN_IMAGES, TEST_IMAGES = 640, 500


def _program_data():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "program_data.py")
    spec = importlib.util.spec_from_file_location("program_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(workdir):
    """Run ``benchmarks/program_data.py`` into ``workdir``."""
    _program_data().main([workdir])


def write_mnist(workdir):
    """The two digit LMDBs under ``workdir/examples/mnist`` (kept when already there); returns
    that folder."""
    data = _program_data()
    folder = os.path.join(workdir, "examples", "mnist")
    os.makedirs(folder, exist_ok=True)
    for name, count, seed in (("mnist_train_lmdb", TRAIN_IMAGES, 1),
                              ("mnist_test_lmdb", TEST_IMAGES, 2)):
        if not os.path.exists(os.path.join(folder, name)):
            data.write_digit_lmdb(os.path.join(folder, name), count, seed)
    return folder
