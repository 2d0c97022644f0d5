"""A Caffe tool run: ``caffe time`` of LeNet's train/test definition (forward and backward of
every layer, 50 iterations, batch 64 from an LMDB), the way users time a net from the shell;
ours is ``caffe-compat time`` with the same flags.

Source: BVLC/caffe examples/mnist/lenet_train_test.prototxt (commit 9b891540, git blob
b18fc26c), unchanged, over the LeNet tutorial's stand-in LMDBs
(tests/pycaffe/public_programs/programs.py). BSD 2-Clause licence, Copyright (c) 2014-2017
The Regents of the University of California (Regents) and the contributors
(tests/pycaffe/public_programs/sources/bvlc_caffe/LICENSE).
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLIC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "pycaffe",
                      "public_programs")
ITERATIONS = 50


def setup(workdir):
    import importlib.util
    import pathlib
    spec = importlib.util.spec_from_file_location(
        "_public_programs", os.path.join(PUBLIC, "programs.py"))
    programs = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = programs         # its dataclasses look their module up
    spec.loader.exec_module(programs)
    mnist = pathlib.Path(workdir) / "examples" / "mnist"
    mnist.mkdir(parents=True, exist_ok=True)
    for name, count, seed in (("mnist_train_lmdb", 640, 1), ("mnist_test_lmdb", 500, 2)):
        if not (mnist / name).exists():
            programs.write_digit_lmdb(mnist / name, count, seed=seed)
    shutil.copyfile(os.path.join(PUBLIC, "sources", "bvlc_caffe", "examples", "mnist",
                                 "lenet_train_test.prototxt"),
                    mnist / "lenet_train_test.prototxt")


def command(side):
    tool = "caffe" if side == "caffe" else "caffe-compat"
    return [tool, "time", "-model", "examples/mnist/lenet_train_test.prototxt",
            "-iterations", str(ITERATIONS)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
