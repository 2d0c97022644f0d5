"""The nets and programs of ``benchmarks/bench_one_shot.py``: one Caffe net per kind of OpenCV
4's samples/dnn, with seeded random weights, and a program per kind written as those samples
are (read the net, prepare one image with cv2, one ``forward()``, read the answer, exit).

Kinds and nets (the topologies of the public deploy files; weights seeded, so every run reads
the same caffemodel):

* ``classification``: SqueezeNet 1.1 at 227 x 227 (``classification.py``);
* ``ssd``: the res10 SSD face detector at 300 x 300 (``face_detector``, ``object_detection.py``);
* ``pose``: an OpenPose COCO net (``pose_deploy_linevec``: VGG-19's first ten convolutions,
  then six stages of two branches, 38 part affinity fields and 19 heat maps) at 368 x 368
  (``openpose.py``), written out here;
* ``segmentation``: FCN-8s at 500 x 500 (``segmentation.py`` with fcn8s-heavy-pascal);
* ``colorization``: Zhang et al.'s colorization_deploy_v2 at 224 x 224 (``colorization.py``);
* ``cascade``: the trained MTCNN face cascade (P-Net over an image pyramid of many input shapes,
  R-Net and O-Net on crop batches) on six photographs, the algorithm of
  ``benchmarks/programs/mtcnn_cascade.py`` with cv2.dnn's calls (``setInput``, ``forward`` of
  named outputs); its nets are the published ones of ``../shared/models/mtcnn``;
* ``cascade_loop``: the same cascade over the six photographs ten times, as a video loop of
  OpenCV's tutorials runs it, with their ``setPreferableBackend(DNN_BACKEND_OPENCV)`` and
  ``setPreferableTarget(DNN_TARGET_CPU)`` lines: the same input shapes again and again.

``quick`` shrinks the dense nets' inputs (pose 184, segmentation 256) for a short run.
"""
from __future__ import annotations

import os

import numpy as np

PROGRAM_HEAD = "import sys\nimport time\nimport cv2\nimport numpy as np\n"
# what a program adds to run on OpenCV 5 with caffe_compat's importer
INSTALL = "from caffe_compat import dnn as _caffe_dnn\n_caffe_dnn.install()\n"

PROGRAMS = {
    "classification": """
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
frame = cv2.imread(sys.argv[3])
blob = cv2.dnn.blobFromImage(frame, 1.0, (227, 227), (104, 117, 123), swapRB=False)
net.setInput(blob)
out = net.forward()
print("class", int(np.argmax(out)), "score %.4f" % float(out.max()))
""",
    "ssd": """
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
frame = cv2.imread(sys.argv[3])
h, w = frame.shape[:2]
blob = cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), (104.0, 177.0, 123.0))
net.setInput(blob)
detections = net.forward()
faces = [detections[0, 0, i, 3:7] * np.array([w, h, w, h]) for i in range(detections.shape[2])
         if detections[0, 0, i, 2] > 0.5]
print("detections", detections.shape[2], "above 0.5:", len(faces))
""",
    "pose": """
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
frame = cv2.imread(sys.argv[3])
size = int(sys.argv[4])
inp = cv2.dnn.blobFromImage(frame, 1.0 / 255, (size, size), (0, 0, 0), swapRB=False, crop=False)
net.setInput(inp)
out = net.forward()
points = []
for i in range(19):
    heat = out[0, i, :, :]
    _, conf, _, point = cv2.minMaxLoc(heat)
    points.append((int(frame.shape[1] * point[0] / out.shape[3]),
                   int(frame.shape[0] * point[1] / out.shape[2])) if conf > 0.1 else None)
print("output", out.shape, "points", sum(p is not None for p in points))
""",
    "segmentation": """
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
frame = cv2.imread(sys.argv[3])
size = int(sys.argv[4])
blob = cv2.dnn.blobFromImage(frame, 1.0, (size, size), (104.00699, 116.66877, 122.67892), False)
net.setInput(blob)
score = net.forward()
classes = np.argmax(score[0], axis=0)
print("score", score.shape, "classes", len(np.unique(classes)))
""",
    "colorization": """
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
frame = cv2.imread(sys.argv[3])
img_rgb = (frame[:, :, [2, 1, 0]] * 1.0 / 255).astype(np.float32)
img_lab = cv2.cvtColor(img_rgb, cv2.COLOR_RGB2Lab)
img_l = img_lab[:, :, 0]
img_l_rs = cv2.resize(img_l, (224, 224)) - 50
net.setInput(cv2.dnn.blobFromImage(img_l_rs))
ab_dec = net.forward()[0, :, :, :].transpose((1, 2, 0))
ab_us = cv2.resize(ab_dec, (frame.shape[1], frame.shape[0]))
img_lab_out = np.concatenate((img_l[:, :, np.newaxis], ab_us), axis=2)
img_bgr_out = np.clip(cv2.cvtColor(img_lab_out, cv2.COLOR_Lab2BGR), 0, 1)
print("colorized", img_bgr_out.shape, "mean %.4f" % float(img_bgr_out.mean()))
""",
    "cascade": """
sys.path.insert(0, sys.argv[1])
from mtcnn_cascade import NETS, photographs, report
nets = [cv2.dnn.readNetFromCaffe(f"{sys.argv[2]}/{n}.prototxt", f"{sys.argv[2]}/{n}.caffemodel")
        for n in NETS]


def run(net, batch, names):
    net.setInput(batch)
    return dict(zip(names, net.forward(list(names))))


report(photographs(sys.argv[2]), nets, run)
""",
    "cascade_loop": """
sys.path.insert(0, sys.argv[1])
from mtcnn_cascade import NETS, photographs, report
nets = [cv2.dnn.readNetFromCaffe(f"{sys.argv[2]}/{n}.prototxt", f"{sys.argv[2]}/{n}.caffemodel")
        for n in NETS]
for net in nets:
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)


def run(net, batch, names):
    net.setInput(batch)
    return dict(zip(names, net.forward(list(names))))


frames = photographs(sys.argv[2])
for _ in range(10):
    report(frames, nets, run)
""",
}
PROGRAMS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def openpose(size=368):
    """The OpenPose COCO deploy net (pose_deploy_linevec.prototxt's layers and shapes)."""
    from tests.caffe_compat.public_nets.proto import Net
    n = Net("OpenPose COCO", {"image": (1, 3, size, size)})
    x = "image"
    for name, width in (("conv1_1", 64), ("conv1_2", 64), ("pool1", 0), ("conv2_1", 128),
                        ("conv2_2", 128), ("pool2", 0), ("conv3_1", 256), ("conv3_2", 256),
                        ("conv3_3", 256), ("conv3_4", 256), ("pool3", 0), ("conv4_1", 512),
                        ("conv4_2", 512), ("conv4_3_CPM", 256), ("conv4_4_CPM", 128)):
        if width == 0:
            x = n.pool(f"{name}_stage1", x, "MAX", 2, 2)
            continue
        x = n.conv(name, x, width, 3, p=1)
        n.relu(f"relu{name[4:]}", x)
    features = x
    branches = {}
    for branch, outputs in (("L1", 38), ("L2", 19)):
        y = features
        for i, (width, k) in enumerate(((128, 3), (128, 3), (128, 3), (512, 1)), 1):
            y = n.conv(f"conv5_{i}_CPM_{branch}", y, width, k, p=k // 2)
            n.relu(f"relu5_{i}_CPM_{branch}", y)
        branches[branch] = n.conv(f"conv5_5_CPM_{branch}", y, outputs, 1)
    for stage in range(2, 7):
        x = n.concat(f"concat_stage{stage}", [branches["L1"], branches["L2"], features], 1)
        for branch, outputs in (("L1", 38), ("L2", 19)):
            y = x
            for i in range(1, 6):
                y = n.conv(f"Mconv{i}_stage{stage}_{branch}", y, 128, 7, p=3)
                n.relu(f"Mrelu{i}_stage{stage}_{branch}", y)
            y = n.conv(f"Mconv6_stage{stage}_{branch}", y, 128, 1)
            n.relu(f"Mrelu6_stage{stage}_{branch}", y)
            branches[branch] = n.conv(f"Mconv7_stage{stage}_{branch}", y, outputs, 1)
    n.concat("net_output", [branches["L2"], branches["L1"]], 1)
    return n.text()


def _filled(text, seed):
    """Prototxt text and caffemodel bytes with seeded He-uniform weights."""
    from caffe_compat import Net
    from caffe_compat.io.caffemodel import caffemodel_bytes
    from tests.caffe_compat.opencv_fixtures.nets import fill_weights
    net = Net(text, phase="test", seed=seed)
    fill_weights(net, seed)
    return text, caffemodel_bytes(net.to_proto())


def kind_files(kind, quick=False):
    """``(prototxt text, caffemodel bytes, extra program arguments)`` of a kind."""
    from tests.caffe_compat.dnn import nets, zoo_nets
    from tests.caffe_compat.public_nets import dense
    if kind == "classification":
        text, blobs = zoo_nets.squeezenet11()
        return text, nets.caffemodel_bytes(text, blobs, seed=0), []
    if kind == "ssd":
        text, blobs = nets.res10_ssd()
        return text, nets.caffemodel_bytes(text, blobs, seed=0), []
    if kind == "pose":
        size = 184 if quick else 368
        return (*_filled(openpose(size), 1), [str(size)])
    if kind == "segmentation":
        size = 256 if quick else 500
        return (*_filled(dense.fcn8s(size), 2), [str(size)])
    if kind == "colorization":
        return (*_filled(dense.colorization(224), 3), [])
    raise KeyError(kind)


def photo(path, seed=0):
    """A seeded 640 x 480 colour image with smooth shapes and noise (what the programs read)."""
    import cv2
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    img = np.stack([128 + 100 * np.sin(xx / (40 + 20 * c) + c) * np.cos(yy / 55)
                    for c in range(3)], axis=2)
    img += rng.normal(0, 12, img.shape)
    for _ in range(6):
        cx, cy, r = rng.integers(60, 580), rng.integers(60, 420), rng.integers(20, 70)
        cv2.circle(img, (int(cx), int(cy)), int(r), tuple(float(v) for v in rng.uniform(0, 255, 3)),
                   -1)
    cv2.imwrite(path, np.clip(img, 0, 255).astype(np.uint8))
    return path


def write_kind(folder, kind, quick=False):
    """Write the kind's deploy.prototxt, weights.caffemodel and the two programs (OpenCV 4 as
    the sample is; ours: the same after ``dnn.install()``) into ``folder``; returns
    ``{"args": [...], "opencv4": path, "ours": path}``."""
    os.makedirs(folder, exist_ok=True)
    if kind in ("cascade", "cascade_loop"):
        return _write_cascade(folder, kind)
    text, model, extra = kind_files(kind, quick)
    proto, weights = os.path.join(folder, "deploy.prototxt"), os.path.join(folder,
                                                                           "weights.caffemodel")
    with open(proto, "w") as f:
        f.write(text)
    with open(weights, "wb") as f:
        f.write(model)
    image = photo(os.path.join(folder, "image.png"))
    paths = _programs(folder, kind)
    paths["args"] = [proto, weights, image] + extra
    return paths


def _programs(folder, kind):
    paths = {}
    for runner, head in (("opencv4", PROGRAM_HEAD), ("ours", PROGRAM_HEAD + INSTALL)):
        paths[runner] = os.path.join(folder, f"{kind}_{runner}.py")
        with open(paths[runner], "w") as f:
            f.write(head + PROGRAMS[kind])
    return paths


def _write_cascade(folder, kind="cascade"):
    """The MTCNN nets and photographs (``mtcnn_cascade.setup``) and the two programs."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "_mtcnn_cascade", os.path.join(PROGRAMS_DIR, "mtcnn_cascade.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.setup(folder)
    paths = _programs(folder, kind)
    paths["args"] = [PROGRAMS_DIR, folder]
    return paths
