"""The cv2.dnn client programs run by ``test_public_programs.py`` (``scripts/``): the arguments
they are run with, the nets and seeded weights written for them, the public files they read
from ``../shared`` and what is compared afterwards.

Every program runs as a user would run it, under its own file name, with ``runpy``
(``runner.py``). Its inputs: the photograph (scikit-image's astronaut at 128 x 128, as
``photo.png``; three shifted windows of it as the tracker's video), the seeded weights
(``weights.py``), the public deploy files under ``../shared/public-nets/dnn_programs/``, the nets
this project writes (``written_nets.py``, ``tests/caffe_compat/dnn/nets.py``) and a stand-in
``pts_in_hull.npy`` for the colorization program.
"""
import dataclasses
import hashlib
import os

import numpy as np

from . import weights, written_nets

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
REPO = os.path.abspath(os.path.join(HERE, *[os.pardir] * 4))
# ../shared beside the checkout, or $RLQ_SHARED (the rule of tests/conftest.py)
SHARED = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
PUBLIC_NETS = os.path.join(SHARED, "public-nets")

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

# MobileNet-SSD's input is (pixel - 127.5) / 127.5, spread about 0.5: the first layer doubles
MOBILENET_SSD_INPUT_GAIN = 2.0
_SSD_HEADS = ("conv11", "conv13", "conv14_2", "conv15_2", "conv16_2", "conv17_2")
MOBILENET_SSD_GAINS = tuple([(f"{h}_mbox_loc", 0.02) for h in _SSD_HEADS]
                            + [(f"{h}_mbox_conf", 1.0) for h in _SSD_HEADS])


# the tracker's labels (21 VOC names, MobileNet-SSD's classes), read from ../shared
TRACKER_LABELS = "dnn_programs/motrackers/ssd_mobilenet_caffe_names.json"
# the segmentation program's classes file: PASCAL VOC's 20 classes after the background, the
# order of FCN-8s's 21 score maps
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
# the tracker's video: windows of the photograph FRAME_WIDTH wide, FRAME_STEP pixels further
# right in each of FRAMES frames (a camera panning across the scene)
FRAMES, FRAME_STEP, FRAME_WIDTH = 3, 3, 120


@dataclasses.dataclass(frozen=True)
class Program:
    name: str
    script: str                       # under scripts/
    args: tuple                       # {dir}: the working folder, {public}: ../shared/public-nets
    net: str                          # public:FILE (under ../shared/public-nets),
                                      # written_nets.FUNCTION(...) or nets.FUNCTION()
                                      # (tests/caffe_compat/dnn/nets.py)
    first: str                        # the layer that reads the input
    input_gain: float = 1.0
    gains: tuple = ()                 # (layer, gain) for output layers
    flat_inputs: tuple = ()           # (InnerProduct layer, input size)
    net_args: tuple = ()
    arrays: tuple = ()                # the program's variables compared as arrays
    exact: tuple = ()                 # ... compared exactly (classes, keypoints, boxes, tracks)
    detections: tuple = ()            # (variable, threshold): SSD rows (1 x 1 x N x 7; their
                                      # first column the frame), which rows pass
    class_maps: tuple = ()            # (class map, scores [C x H x W]): argmax over classes,
                                      # equal wherever the two best scores are not tied
    files: tuple = ("net.prototxt", "net.caffemodel")   # where the net's files go
    cwd: bool = False                 # run in the working folder (relative paths in the code)
    photo: str = "photo.png"          # the photograph's file name in the working folder
    bias_shift: tuple = ()            # (layer, values added to its drawn bias)
    override: str = ""                # which exact blobs replace drawn ones (prepare)
    public: tuple = ()                # further files read from ../shared/public-nets
    slow: bool = False
    seed: int = 49

    def public_files(self):
        """The files under ../shared/public-nets this program reads (relative paths)."""
        own = (self.net[len("public:"):],) if self.net.startswith("public:") else ()
        return own + self.public

    def prototxt(self):
        if self.net.startswith("nets."):
            return self._dnn_net()[0]
        if self.net.startswith("written_nets."):
            return getattr(written_nets, self.net.split(".", 1)[1])(*self.net_args)
        path = public_path(self.net[len("public:"):])
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def _dnn_net(self):
        from tests.caffe_compat.dnn import nets
        return getattr(nets, self.net.split(".", 1)[1])(*self.net_args)

    def argv(self, folder):
        return [os.path.join(SCRIPTS, self.script)] + [
            a.format(dir=folder, public=PUBLIC_NETS) for a in self.args]


def public_path(relative):
    """A file under ../shared/public-nets; FileNotFoundError naming it when absent."""
    path = os.path.join(PUBLIC_NETS, relative)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: a public file this program reads, not here "
                                "(../shared, or $RLQ_SHARED, holds public-nets/)")
    return path


def missing_public(program):
    """The first public file ``program`` reads that is absent (a path), or None."""
    for relative in program.public_files():
        path = os.path.join(PUBLIC_NETS, relative)
        if not os.path.exists(path):
            return path
    return None


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


def video_frames():
    """The tracker's frames: FRAMES windows of the photograph, 128 x FRAME_WIDTH."""
    photo = photo_bgr()
    return [np.ascontiguousarray(photo[:, k * FRAME_STEP:k * FRAME_STEP + FRAME_WIDTH])
            for k in range(FRAMES)]


PROGRAMS = {p.name: p for p in (
    Program(
        "classification", "classify.py",
        ("--input", "{dir}/photo.png", "--model", "{dir}/net.caffemodel",
         "--config", "{dir}/net.prototxt", "--width", "224", "--height", "224",
         "--mean", "104", "117", "123", "--top", "5"),
        "public:dnn_programs/bvlc_caffe/deploy.prototxt", "conv1/7x7_s2", 1 / PIXEL_SPREAD,
        gains=(("loss3/classifier", 0.3),), flat_inputs=(("loss3/classifier", 1024),),
        arrays=("out", "confidence"), exact=("classId", "top")),
    Program(
        "edge_detection", "hed_edges.py",
        ("--input", "{dir}/photo.png", "--prototxt", "{dir}/net.prototxt",
         "--caffemodel", "{dir}/net.caffemodel", "--width", "160", "--height", "160"),
        "public:dnn_programs/hed/deploy.prototxt", "conv1_1", 1 / PIXEL_SPREAD,
        override="hed", arrays=("out",)),
    Program(
        "openpose_coco", "pose_keypoints.py",
        ("--input", "{dir}/photo.png", "--proto", "{dir}/net.prototxt",
         "--model", "{dir}/net.caffemodel", "--dataset", "COCO",
         "--width", "96", "--height", "96"),
        "written_nets.openpose_body", "conv1_1", 4.0, net_args=("COCO", 2, 0.25),
        arrays=("out",), exact=("points",)),
    Program(
        "colorization", "colorize.py",
        ("--input", "{dir}/photo.png", "--prototxt", "{dir}/net.prototxt",
         "--caffemodel", "{dir}/net.caffemodel", "--kernel", "{dir}/pts_in_hull.npy"),
        "written_nets.colorization_v2", "bw_conv1_1", 1 / 25.0, net_args=(0.25,),
        override="colorization", arrays=("ab_dec", "img_bgr_out")),
    Program(
        "face_detector", "face_ssd.py", (),
        "nets.res10_ssd", "conv1_h", seed=3,
        detections=("detections", 0.5), cwd=True,
        files=("face_detector/deploy.prototxt",
               "face_detector/res10_300x300_ssd_iter_140000.caffemodel")),
    Program(
        "pose_single_image", "pose_single_image.py", (),
        "written_nets.openpose_body", "conv1_1", 4.0, net_args=("MPI", 4, 0.25, True),
        arrays=("output",), exact=("points",), cwd=True, photo="single.jpeg",
        files=("pose/mpi/pose_deploy_linevec_faster_4_stages.prototxt",
               "pose/mpi/pose_iter_160000.caffemodel")),
    Program(
        "segmentation_fcn8s", "segment.py",
        ("--input", "{dir}/photo.png", "--model", "{dir}/net.caffemodel",
         "--config", "{dir}/net.prototxt", "--width", "64", "--height", "64",
         "--mean", "104", "117", "123", "--classes", "{dir}/classes.txt"),
        "written_nets.fcn8s", "conv1_1", 1 / PIXEL_SPREAD, net_args=(0.125,),
        bias_shift=(("score_pool3", FCN_CLASS_SHIFT),), override="fcn",
        arrays=("score",), class_maps=(("classIds", "score"),)),
    Program(
        "tracker_mobilenet_ssd", "track_objects.py",
        ("--video", "{dir}/frame_%d.png", "--weights", "{dir}/MobileNetSSD_deploy.caffemodel",
         "--config", "{dir}/MobileNetSSD_deploy.prototxt",
         "--labels", "{public}/" + TRACKER_LABELS),
        "public:dnn_programs/chuanqi305_mobilenet_ssd/MobileNetSSD_deploy.prototxt", "conv0",
        MOBILENET_SSD_INPUT_GAIN,
        gains=MOBILENET_SSD_GAINS, detections=("detections", 0.5),
        # bboxes: corners x the frame's size cut to int, exact: programs.json gives the
        # nearest corner's distance from a cut, against ours moving it by about 1e-6 of
        # 128 px (measured); tracks follow from the boxes and classes
        arrays=("confidences",), exact=("class_ids", "bboxes", "tracks"),
        files=("MobileNetSSD_deploy.prototxt", "MobileNetSSD_deploy.caffemodel"),
        public=(TRACKER_LABELS,)),
    Program(
        "openpose_mpi_full", "pose_keypoints.py",
        ("--input", "{dir}/photo.png", "--proto", "{dir}/net.prototxt",
         "--model", "{dir}/net.caffemodel", "--dataset", "MPI",
         "--width", "184", "--height", "184"),
        "written_nets.openpose_body", "conv1_1", 4.0, net_args=("MPI", 4, 1.0),
        arrays=("out",), exact=("points",), slow=True),
    Program(
        "colorization_full", "colorize.py",
        ("--input", "{dir}/photo.png", "--prototxt", "{dir}/net.prototxt",
         "--caffemodel", "{dir}/net.caffemodel", "--kernel", "{dir}/pts_in_hull.npy"),
        "written_nets.colorization_v2", "bw_conv1_1", 1 / 25.0, net_args=(1.0,),
        override="colorization", arrays=("ab_dec", "img_bgr_out"), slow=True),
)}


def _overrides(program, text):
    """Blobs written exactly instead of drawn, per ``program.override``."""
    if program.override == "colorization":
        # what the real caffemodel holds for the layers the program then overwrites: the
        # Scale's constant filler and a zero bias for the decoding convolution
        return {"conv8_313_rh": [np.full(313, 2.606)],
                "class8_ab": [np.zeros((2, 313, 1, 1)), np.zeros(2)]}
    if program.override == "hed":
        # HED's fusing weights as its training started them (constant 0.2, no bias): the
        # mean of the five side outputs
        return {"new-score-weighting": [np.full((1, 5, 1, 1), 0.2), np.zeros(1)]}
    if program.override == "fcn":
        # FCN's fixed upsampling as its net surgery writes it: the bilinear kernel from each
        # class to itself, zero across classes (Caffe's bilinear filler fills every pair)
        return {layer: [weights.bilinear_diagonal(shapes[0])]
                for layer, kind, shapes, frozen in weights.param_shapes(text)
                if kind == "Deconvolution" and frozen}
    return None


def _write_png(folder, name, image):
    # PNG whatever the name (imread reads by content): the same pixels under any OpenCV,
    # where two libjpeg builds may decode a JPEG differently
    import cv2
    cv2.imwrite(os.path.join(folder, name + ".png"), image)
    os.replace(os.path.join(folder, name + ".png"), os.path.join(folder, name))


def prepare(program, folder):
    """Write the program's inputs into ``folder``; returns the sha256 of the weights."""
    proto, model = (os.path.join(folder, f) for f in program.files)
    os.makedirs(os.path.dirname(proto), exist_ok=True)
    text = program.prototxt()
    with open(proto, "w", encoding="utf-8") as fh:
        fh.write(text)
    for name in {"photo.png", program.photo}:
        _write_png(folder, name, photo_bgr())
    for k, frame in enumerate(video_frames()):
        _write_png(folder, f"frame_{k}.png", frame)
    np.save(os.path.join(folder, "pts_in_hull.npy"), pts_in_hull_stand_in())
    with open(os.path.join(folder, "classes.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(VOC_CLASSES) + "\n")
    if program.net.startswith("nets."):
        # the dnn tests' own weight draw for this net (gains measured for its SSD heads)
        from tests.caffe_compat.dnn import nets
        data = nets.caffemodel_bytes(text, program._dnn_net()[1], seed=program.seed)
        with open(model, "wb") as fh:
            fh.write(data)
        return hashlib.sha256(data).hexdigest()
    return weights.write(model, text, program.seed,
                         program.input_gain, dict(program.gains), program.first,
                         dict(program.flat_inputs), _overrides(program, text),
                         dict(program.bias_shift))
