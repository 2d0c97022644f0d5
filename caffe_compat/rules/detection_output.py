"""DetectionOutput's numpy rule, without torch: the settings and the forward of
:class:`caffe_compat.layers.detection_output.DetectionOutput` (OpenCV 4 dnn's
DetectionOutputLayer on the CPU; that module's docstring states the rule), shared by that
layer and the torch-free path, whose ONNX part computes the location, confidence and prior
bottoms and hands them to :meth:`DetectionRule.detections`."""
from __future__ import annotations

import numpy as np

from ..parallel.helper import Helper
from . import boxes as det

# the fields the rule reads (``save_output_param`` only names files SSD's Caffe writes)
FIELDS = frozenset({"num_classes", "share_location", "background_label_id", "nms_param",
                    "code_type", "variance_encoded_in_target", "keep_top_k",
                    "confidence_threshold", "normalized_bbox", "clip"})
NO_EFFECT = {"save_output_param": "SSD's Caffe writes the detections to files with it; the "
                                  "top is the same"}


def output_rows(keep_top_k, images, found=None):
    """Rows of DetectionOutput's ``(1, 1, rows, 7)`` top: ``keep_top_k`` per image (OpenCV's
    layout, unused rows zero), or with ``keep_top_k`` -1 one per detection. ``found``: the
    detections, None before the forward (a shape: one row where the count depends on the
    data)."""
    if keep_top_k < 0:
        return 1 if found is None else found
    return keep_top_k * images if found is None else max(keep_top_k * images, found)


# the thread that takes the second half of a batch's images while the caller takes the first
_HELPER = Helper("caffe-compat-detections")


class DetectionRule:
    """The settings of one DetectionOutput layer (``p``: its DetectionOutputParameter);
    ``fail(message)`` raises the caller's error for a bad setting; ``scan``: the suppression's
    scan over ranked candidates (default :func:`caffe_compat.rules.boxes.scan`, which lets the
    C kernel take each class's whole step where it was built; any other runs the numpy
    rule). ``eta``: ``nms_param.eta`` (1 unless given), SSD's adaptive NMS, not used (OpenCV's
    rule)."""

    def __init__(self, p, fail, scan=None):
        self._scan = scan or det.scan
        if not p.HasField("num_classes"):
            fail("detection_output_param.num_classes is required")
        self.num_classes = int(p.num_classes)
        self.share = p.share_location
        self.num_loc = 1 if self.share else self.num_classes
        self.background = int(p.background_label_id)
        if self.share and self.background == -1:
            fail("background_label_id -1 with share_location skips the shared location "
                 "predictions (SSD's Caffe and OpenCV fail on it too); for no background "
                 "class give an id outside [0, num_classes)")
        self.code_type = p.code_type
        self.encoded = p.variance_encoded_in_target
        self.keep_top_k = int(p.keep_top_k)
        self.threshold = float(p.confidence_threshold) if p.HasField("confidence_threshold") \
            else 0.0
        self.nms_threshold = float(p.nms_param.nms_threshold)
        if not self.nms_threshold > 0:
            fail(f"nms_param.nms_threshold must be positive, got {self.nms_threshold}")
        self.top_k = int(p.nms_param.top_k) if p.nms_param.HasField("top_k") else -1
        self.eta = float(p.nms_param.eta)
        self.normalized = p.normalized_bbox
        self.clip = p.clip

    def detections(self, loc, conf, prior, image_hw=None, threads=1):
        """The ``(1, 1, rows, 7)`` float32 output for the bottoms' arrays (``image_hw``: the
        image bottom's height and width, for ``clip`` of boxes in pixels). With ``threads``
        of 2 or more and more than one image, a helper thread computes the second half of the
        images while the caller computes the first (each image's rows depend on it alone,
        and the C kernel's calls release the GIL): the same rows in the same order."""
        n = loc.shape[0]
        p = prior.shape[2] // 4
        loc_np = np.asarray(loc, np.float32).reshape(n, p, self.num_loc, 4)
        conf_np = np.asarray(conf, np.float32).reshape(n, p, self.num_classes)
        prior_np = np.asarray(prior, np.float32).reshape(-1, p * 4)
        boxes = prior_np[0].reshape(p, 4)
        var = None if self.encoded else prior_np[1].reshape(p, 4)
        bounds = None
        if self.clip:
            bounds = (1.0, 1.0) if self.normalized else \
                (float(image_hw[1] - 1), float(image_hw[0] - 1))
        def images(at):
            return [self._image(i, loc_np[i], conf_np[i], boxes, var, bounds) for i in at]

        if threads > 1 and n > 1 and self._c_kernel() is not None:
            half = (n + 1) // 2
            later = _HELPER.submit(images, range(half, n))
            rows = images(range(half))
            rows += later.result()
        else:
            rows = images(range(n))
        rows = np.concatenate(rows) if rows else np.zeros((0, 7), np.float32)
        out = np.zeros((1, 1, output_rows(self.keep_top_k, n, len(rows)), 7), np.float32)
        out[0, 0, :len(rows)] = rows
        return out

    def _c_kernel(self):
        """The C kernel where it was built and no other scan was given, else None."""
        return det._kernel() if self._scan is det.scan else None

    def _image(self, i, loc, conf, priors, var, bounds):
        """Rows of image ``i``: OpenCV's processDetections_ and outputDetections_. Only the
        boxes of each class's candidates (those NMS visits) are decoded: decoding works box
        by box, so they are the floats a decoding of every prior gives. By the C kernel
        (``caffe_compat/kernels/_nms_kernel.c``: ranking, decoding but for numpy's ``exp``,
        suppression) where it was built and no other scan was given, else in numpy."""
        targets = [c for c in range(self.num_classes) if c != self.background]
        if not targets:
            return np.zeros((0, 7), np.float32)
        limit = self.keep_top_k if len(targets) == 1 else None
        kernel = self._c_kernel()
        per_class = self._kernel_classes if kernel is not None else self._numpy_classes
        picked, boxes = per_class(kernel, targets, limit, loc, conf, priors, var, bounds)
        cs = np.repeat(np.asarray(targets, np.int64), [len(j) for j in picked])
        js, boxes = np.concatenate(picked), np.concatenate(boxes)
        scores = conf[js, cs]
        if 0 <= self.keep_top_k < len(js):
            # the keep_top_k best over all classes, regrouped class by class (ascending), each
            # class's in that ranking's order
            best = np.argsort(-scores, kind="stable")[:self.keep_top_k]
            best = best[np.argsort(cs[best], kind="stable")]
            cs, boxes, scores = cs[best], boxes[best], scores[best]
        order = np.argsort(-scores, kind="stable")
        rows = np.empty((len(order), 7), np.float32)
        rows[:, 0] = i
        rows[:, 1] = cs[order]
        rows[:, 2] = scores[order]
        rows[:, 3:] = boxes[order]
        return rows

    def _numpy_classes(self, kernel, targets, limit, loc, conf, priors, var, bounds):
        """Per target class: the priors NMS keeps (in the order kept) and their boxes."""
        threshold = np.float32(self.threshold)
        picked, boxes = [], []
        for c in targets:
            order = det.ranked_numpy(conf[:, c], threshold, self.top_k)
            b = det.decode(priors[order], None if var is None else var[order],
                           loc[order, 0 if self.share else c], self.code_type,
                           self.normalized, bounds, np)
            at = np.asarray(self._scan(b, det.box_size(*b.T, self.normalized, np),
                                       self.nms_threshold, self.normalized, limit), np.intp)
            picked.append(order[at])
            boxes.append(b[at])
        return picked, boxes

    def _kernel_classes(self, kernel, targets, limit, loc, conf, priors, var, bounds):
        """:meth:`_numpy_classes` by the C kernel: the same priors and boxes."""
        p = len(priors)
        loc = np.ascontiguousarray(loc.reshape(p, -1))
        conf, priors = np.ascontiguousarray(conf), np.ascontiguousarray(priors)
        var = None if var is None else np.ascontiguousarray(var)
        order, wh = np.empty(p, np.int64), np.empty((p, 2), np.float32)
        b, sizes = np.empty((p, 4), np.float32), np.empty(p, np.float32)
        # NaN: no clip (an image of no width clips to -1, as numpy's clip does)
        clip_x, clip_y = bounds if bounds is not None else (float("nan"), float("nan"))
        limit = -1 if limit is None else limit
        picked, boxes = [], []
        for c in targets:
            column = 0 if self.share else 4 * c
            n = kernel.candidates(conf, c, self.threshold, self.top_k, loc, column, var, order,
                                  wh)
            if self.code_type == det.CodeType.CENTER_SIZE:
                np.exp(wh[:n], out=wh[:n])
            at = kernel.decode_scan(order, n, wh, loc, column, priors, var, self.code_type,
                                    self.normalized, clip_x, clip_y, self.nms_threshold, limit,
                                    b, sizes)
            picked.append(order[at])
            boxes.append(b[at])
        return picked, boxes
