"""A Caffe tool run: ``caffe time`` over BVLC's LeNet train/test definition (every layer's
forward and backward, 50 iterations, batches of 64 read from an LMDB), as a user times a net
from the shell; for ours the same flags go to ``caffe-compat time``.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). The net definition is BVLC Caffe's ``examples/mnist/lenet_train_test.prototxt``
(BSD 2-Clause), which the repository does not hold: ``setup`` copies it from
``../shared/public-nets/bvlc_nets/mnist__lenet_train_test.prototxt`` (or ``$RLQ_SHARED``) into
the working folder, beside the stand-in digit LMDBs it names
(``_program_files.write_mnist``: 640 training and 500 test images of 28 x 28).
"""
import os
import shutil
import sys

ITERATIONS = 50
DEFINITION = "examples/mnist/lenet_train_test.prototxt"


def setup(workdir):
    from _program_files import write_mnist     # this folder is the script's own here
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    shared = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(repo), "shared"))
    public = os.path.join(shared, "public-nets", "bvlc_nets", "mnist__lenet_train_test.prototxt")
    if not os.path.isfile(public):
        raise SystemExit(f"{public}: BVLC's LeNet definition is missing (set RLQ_SHARED to "
                         "the folder holding public-nets/)")
    write_mnist(workdir)
    shutil.copyfile(public, os.path.join(workdir, DEFINITION))


def command(side):
    """The command line, run in the set-up folder: real Caffe's tool or ours."""
    return ["caffe" if side == "caffe" else "caffe-compat", "time", "-model", DEFINITION,
            "-iterations", str(ITERATIONS)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
