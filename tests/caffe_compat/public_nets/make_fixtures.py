"""Write OpenCV 4 dnn's outputs for the public nets (``data/<net>.npz``), which the tests
compare with our ONNX export's outputs.

Needs OpenCV 4.x (``opencv-python-headless<5``: OpenCV 5 has no Caffe importer). For each net
of ``NETS`` our engine builds the net only to write its seeded weights as a caffemodel; OpenCV's
``readNetFromCaffe`` reads the prototxt text and that caffemodel and runs the seeded input
(CPU, OpenCV backend). Stored: OpenCV's outputs, the sha256 of the weights and of the input
(the tests regenerate both and check them), the OpenCV version.

    python -m tests.caffe_compat.public_nets.make_fixtures [--only NAME ...]
"""
import argparse
import os
import pathlib
import tempfile

import cv2
import numpy as np

from tests.caffe_compat.opencv_fixtures.make_fixtures import opencv_outputs
from tests.caffe_compat.public_nets import NETS, build, input_digest, net_input, slug

DATA = pathlib.Path(__file__).parent / "data"


def write_net(name, tmp):
    spec = NETS[name]
    net, digest = build(name)
    inputs = net_input(net, name)
    model = os.path.join(tmp, "net.caffemodel")
    net.save(model)
    del net
    theirs = opencv_outputs(spec["build"](), model, inputs, spec["outputs"], tmp)
    path = DATA / f"{slug(name)}.npz"
    np.savez_compressed(path, weights_sha256=np.array(digest),
                        input_sha256=np.array(input_digest(inputs)),
                        opencv_version=np.array(cv2.__version__),
                        **{f"out/{k}": v for k, v in theirs.items()})
    print(f"{path.name}: {', '.join(f'{k} {v.shape}' for k, v in theirs.items())}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"some of: {', '.join(NETS)}")
    args = p.parse_args(argv)
    if int(cv2.__version__.split(".")[0]) >= 5:
        raise SystemExit("OpenCV 5 has no Caffe importer: run this with OpenCV 4.x")
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or NETS:
            write_net(name, tmp)


if __name__ == "__main__":
    main()
