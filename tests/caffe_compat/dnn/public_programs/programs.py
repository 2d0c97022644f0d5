"""The public cv2.dnn programs run by ``test_public_programs.py``: their files, the arguments
they are run with, the weights written for them and what is compared afterwards.

Every program runs unchanged, under its own file name, with ``runpy`` (``runner.py``). Only
its inputs are ours: the photograph (scikit-image's astronaut at 128 x 128, as ``photo.png``), the
seeded weights (``weights.py``), the nets whose files may not be copied (``written_nets.py``)
and a stand-in ``pts_in_hull.npy`` for colorization.py.
"""
import dataclasses
import hashlib
import os

import numpy as np

from . import weights, written_nets

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "sources")
# the input spread of pixel values minus a per-channel mean (measured on the photograph: 61-73
# for its three channels); the first layer divides by it so that activations keep unit spread
PIXEL_SPREAD = 64.0


# FCN-8s's scores: a 1 x 1 convolution of ReLU features carries a constant per class that
# dwarfs its variation over the image (with none, one class took 99% of the pixels); the
# last scoring layer's bias takes away each class's mean score over the photograph (measured
# with OpenCV 4; the fixed upsampling passes a constant unchanged), so that 21 classes
# compete on the image's content
FCN_CLASS_SHIFT = (5.833, -0.212, 0.947, 3.324, -4.23, -8.972, 3.699, -2.795, 2.46, -2.364,
                   -2.841, 4.789, 3.078, -2.401, -1.916, -5.499, 0.262, -2.403, -0.824, 2.064,
                   -2.62)

# motrackers' Caffe_SSDMobileNet: its labels file (the 21 VOC names), committed with it
MOTRACKERS_LABELS = os.path.join(SOURCES, "motrackers", "examples", "pretrained_models",
                                 "caffemodel_weights", "ssd_mobilenet_caffe_names.json")
# MobileNet-SSD's input is (pixel - 127.5) / 127.5, spread about 0.5: the first layer doubles
MOBILENET_SSD_INPUT_GAIN = 2.0
_SSD_HEADS = ("conv11", "conv13", "conv14_2", "conv15_2", "conv16_2", "conv17_2")
MOBILENET_SSD_GAINS = tuple([(f"{h}_mbox_loc", 0.02) for h in _SSD_HEADS]
                            + [(f"{h}_mbox_conf", 1.0) for h in _SSD_HEADS])


@dataclasses.dataclass(frozen=True)
class Program:
    name: str
    script: str                       # under sources/
    args: tuple                       # {dir} is the working folder
    net: str                          # a file under sources/, written_nets.FUNCTION(...) or
                                      # nets.FUNCTION() (tests/caffe_compat/dnn/nets.py)
    first: str                        # the layer that reads the input
    input_gain: float = 1.0
    gains: tuple = ()                 # (layer, gain) for output layers
    flat_inputs: tuple = ()           # (InnerProduct layer, input size)
    net_args: tuple = ()
    arrays: tuple = ()                # the program's variables compared as arrays
    exact: tuple = ()                 # ... compared exactly (classes, keypoints)
    detections: tuple = ()            # (variable, threshold): SSD output, which rows pass
    class_maps: tuple = ()            # (class map, scores [C x H x W]): argmax over classes,
                                      # equal wherever the two best scores are not tied
    files: tuple = ("net.prototxt", "net.caffemodel")   # where the net's files go
    cwd: bool = False                 # run in the working folder (relative paths in the code)
    photo: str = "photo.png"          # the photograph's file name in the working folder
    bias_shift: tuple = ()            # (layer, values added to its drawn bias)
    slow: bool = False
    seed: int = 49

    def prototxt(self):
        if self.net.startswith("nets."):
            return self._dnn_net()[0]
        if self.net.startswith("written_nets."):
            return getattr(written_nets, self.net.split(".", 1)[1])(*self.net_args)
        with open(os.path.join(SOURCES, self.net), encoding="utf-8") as fh:
            return fh.read()

    def _dnn_net(self):
        from tests.caffe_compat.dnn import nets
        return getattr(nets, self.net.split(".", 1)[1])(*self.net_args)

    def argv(self, folder):
        return [os.path.join(SOURCES, self.script)] + [a.format(dir=folder) for a in self.args]


def pts_in_hull_stand_in():
    """313 distinct (a, b) points on the grid of 10 in [-90, 100], as the real file holds
    (int64, 313 x 2); which 313 is seeded."""
    grid = np.array([(a, b) for a in range(-90, 101, 10) for b in range(-110, 101, 10)])
    rng = np.random.default_rng(313)
    return grid[np.sort(rng.choice(len(grid), 313, replace=False))].astype(np.int64)


def photo_bgr():
    """scikit-image's astronaut, BGR, reduced to 128 x 128 by 4 x 4 means (numpy, rounded:
    the same pixels whichever OpenCV is installed)."""
    from skimage import data
    rgb = data.astronaut().astype(np.float64).reshape(128, 4, 128, 4, 3).mean(axis=(1, 3))
    return np.ascontiguousarray(np.rint(rgb[:, :, ::-1])).astype(np.uint8)


PROGRAMS = {p.name: p for p in (
    Program(
        "classification", "opencv/classification.py",
        ("--input", "{dir}/photo.png", "--model", "{dir}/net.caffemodel",
         "--config", "{dir}/net.prototxt", "--width", "224", "--height", "224",
         "--mean", "104", "117", "123"),
        "bvlc_caffe/deploy.prototxt", "conv1/7x7_s2", 1 / PIXEL_SPREAD,
        gains=(("loss3/classifier", 0.3),), flat_inputs=(("loss3/classifier", 1024),),
        arrays=("out", "confidence"), exact=("classId",)),
    Program(
        "edge_detection", "opencv/edge_detection.py",
        ("--input", "{dir}/photo.png", "--prototxt", "{dir}/net.prototxt",
         "--caffemodel", "{dir}/net.caffemodel", "--width", "160", "--height", "160"),
        "hed/deploy.prototxt", "conv1_1", 1 / PIXEL_SPREAD,
        arrays=("out",)),
    Program(
        "openpose_coco", "opencv/openpose.py",
        ("--input", "{dir}/photo.png", "--proto", "{dir}/net.prototxt",
         "--model", "{dir}/net.caffemodel", "--dataset", "COCO",
         "--width", "96", "--height", "96"),
        "written_nets.openpose_body", "conv1_1", 4.0, net_args=("COCO", 2, 0.25),
        arrays=("out",), exact=("points",)),
    Program(
        "colorization", "opencv/colorization.py",
        ("--input", "{dir}/photo.png", "--prototxt", "{dir}/net.prototxt",
         "--caffemodel", "{dir}/net.caffemodel", "--kernel", "{dir}/pts_in_hull.npy"),
        "written_nets.colorization_v2", "bw_conv1_1", 1 / 25.0, net_args=(0.25,),
        arrays=("ab_dec", "img_bgr_out")),
    Program(
        "face_detector", "opencv/resnet_ssd_face_python.py", (),
        "nets.res10_ssd", "conv1_h", seed=3,
        detections=("detections", 0.5), cwd=True,
        files=("face_detector/deploy.prototxt",
               "face_detector/res10_300x300_ssd_iter_140000.caffemodel")),
    Program(
        "learnopencv_openpose", "learnopencv/OpenPoseImage.py", (),
        "written_nets.openpose_body", "conv1_1", 4.0, net_args=("MPI", 4, 0.25, True),
        arrays=("output",), exact=("points",), cwd=True, photo="single.jpeg",
        files=("pose/mpi/pose_deploy_linevec_faster_4_stages.prototxt",
               "pose/mpi/pose_iter_160000.caffemodel")),
    Program(
        "segmentation_fcn8s", "opencv/segmentation.py",
        ("--input", "{dir}/photo.png", "--model", "{dir}/net.caffemodel",
         "--config", "{dir}/net.prototxt", "--width", "64", "--height", "64",
         "--mean", "104", "117", "123"),
        "written_nets.fcn8s", "conv1_1", 1 / PIXEL_SPREAD, net_args=(0.125,),
        bias_shift=(("score_pool3", FCN_CLASS_SHIFT),),
        arrays=("score",), class_maps=(("classIds", "score"),)),
    Program(
        "motrackers_mobilenet_ssd", "../drivers/motrackers_caffe_ssd.py",
        ("--video", "{dir}/photo.png", "--weights", "{dir}/MobileNetSSD_deploy.caffemodel",
         "--config", "{dir}/MobileNetSSD_deploy.prototxt", "--labels", MOTRACKERS_LABELS),
        "chuanqi305_mobilenet_ssd/MobileNetSSD_deploy.prototxt", "conv0",
        MOBILENET_SSD_INPUT_GAIN,
        gains=MOBILENET_SSD_GAINS, detections=("detections", 0.5),
        # bboxes: corners x 128 cut to int, exact: the nearest corner lies 1.8e-3 px from a cut
        # (programs.json), 14 times what ours moves it (1e-6 of 128 px, measured)
        arrays=("confidences",), exact=("class_ids", "bboxes"),
        files=("MobileNetSSD_deploy.prototxt", "MobileNetSSD_deploy.caffemodel")),
    Program(
        "openpose_mpi_full", "opencv/openpose.py",
        ("--input", "{dir}/photo.png", "--proto", "{dir}/net.prototxt",
         "--model", "{dir}/net.caffemodel", "--dataset", "MPI",
         "--width", "184", "--height", "184"),
        "written_nets.openpose_body", "conv1_1", 4.0, net_args=("MPI", 4, 1.0),
        arrays=("out",), exact=("points",), slow=True),
    Program(
        "colorization_full", "opencv/colorization.py",
        ("--input", "{dir}/photo.png", "--prototxt", "{dir}/net.prototxt",
         "--caffemodel", "{dir}/net.caffemodel", "--kernel", "{dir}/pts_in_hull.npy"),
        "written_nets.colorization_v2", "bw_conv1_1", 1 / 25.0, net_args=(1.0,),
        arrays=("ab_dec", "img_bgr_out"), slow=True),
)}


def prepare(program, folder):
    """Write the program's inputs into ``folder``; returns the sha256 of the weights."""
    import cv2
    proto, model = (os.path.join(folder, f) for f in program.files)
    os.makedirs(os.path.dirname(proto), exist_ok=True)
    text = program.prototxt()
    with open(proto, "w", encoding="utf-8") as fh:
        fh.write(text)
    for name in {"photo.png", program.photo}:
        # PNG whatever the name (imread reads by content): the same pixels under any OpenCV,
        # where two libjpeg builds may decode a JPEG differently
        cv2.imwrite(os.path.join(folder, name + ".png"), photo_bgr())
        os.replace(os.path.join(folder, name + ".png"), os.path.join(folder, name))
    np.save(os.path.join(folder, "pts_in_hull.npy"), pts_in_hull_stand_in())
    if program.net.startswith("nets."):
        # the dnn tests' own weight draw for this net (gains measured for its SSD heads)
        from tests.caffe_compat.dnn import nets
        data = nets.caffemodel_bytes(text, program._dnn_net()[1], seed=program.seed)
        with open(model, "wb") as fh:
            fh.write(data)
        return hashlib.sha256(data).hexdigest()
    override = None
    if program.script.endswith("colorization.py"):
        # what the real caffemodel holds for the layers the program then overwrites: the
        # Scale's constant filler and a zero bias for the decoding convolution
        override = {"conv8_313_rh": [np.full(313, 2.606)],
                    "class8_ab": [np.zeros((2, 313, 1, 1)), np.zeros(2)]}
    elif program.script.endswith("edge_detection.py"):
        # HED's fusing weights as its training started them (constant 0.2, no bias): the
        # mean of the five side outputs
        override = {"new-score-weighting": [np.full((1, 5, 1, 1), 0.2), np.zeros(1)]}
    elif program.script.endswith("segmentation.py"):
        # FCN's fixed upsampling as its net surgery writes it: the bilinear kernel from each
        # class to itself, zero across classes (Caffe's bilinear filler fills every pair)
        override = {layer: [weights.bilinear_diagonal(shapes[0])]
                    for layer, kind, shapes, frozen in weights.param_shapes(text)
                    if kind == "Deconvolution" and frozen}
    return weights.write(model, text, program.seed,
                         program.input_gain, dict(program.gains), program.first,
                         dict(program.flat_inputs), override, dict(program.bias_shift))
