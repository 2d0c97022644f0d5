"""Object detection with a Caffe SSD net (MobileNet-SSD) in cv2.dnn."""
import json

import cv2 as cv
import numpy as np


def read_labels(path):
    """A JSON object mapping class indices (as strings) to names -> {index: name}."""
    with open(path, encoding="utf-8") as fh:
        return {int(k): v for k, v in json.load(fh).items()}


class SSDDetector:
    """MobileNet-SSD (300 x 300, input (pixel - 127.5) / 127.5, RGB) through cv2.dnn.

    ``detect(frame)`` gives the boxes (x, y, w, h in pixels, ints), confidences and classes
    of the detections above ``confidence`` that survive ``cv.dnn.NMSBoxes`` at ``nms``."""

    SIDE = 300
    MEAN = 127.5
    SCALE = 1 / 127.5

    def __init__(self, weights, config, labels, confidence=0.5, nms=0.2,
                 backend=cv.dnn.DNN_BACKEND_DEFAULT, target=cv.dnn.DNN_TARGET_CPU):
        self.names = read_labels(labels)
        self.confidence = confidence
        self.nms = nms
        self.net = cv.dnn.readNetFromCaffe(config, weights)
        self.net.setPreferableBackend(backend)
        self.net.setPreferableTarget(target)
        self.outputs = self.net.getUnconnectedOutLayersNames()
        rng = np.random.default_rng(7)
        self.colours = {k: tuple(int(c) for c in rng.integers(0, 256, 3)) for k in self.names}

    def forward(self, frame):
        """The net's output for ``frame``: 1 x 1 x N x 7 rows (image, class, confidence,
        x0, y0, x1, y1), corners as fractions of the frame."""
        blob = cv.dnn.blobFromImage(frame, scalefactor=self.SCALE, size=(self.SIDE, self.SIDE),
                                    mean=(self.MEAN,) * 3, swapRB=True, crop=False)
        self.net.setInput(blob)
        outs = self.net.forward(self.outputs)
        return outs[0]

    def detect(self, frame):
        """(boxes K x 4 int, confidences K, classes K) after the threshold and NMS."""
        return self.select(self.forward(frame), frame.shape[1], frame.shape[0])

    def select(self, rows, width, height):
        rows = rows.reshape(-1, 7)
        rows = rows[rows[:, 2] > self.confidence]
        if not len(rows):
            return np.zeros((0, 4), int), np.zeros(0), np.zeros(0, int)
        corners = (rows[:, 3:7] * np.array([width, height, width, height])).astype(int)
        boxes = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]])
        scores = rows[:, 2].astype(float)
        keep = np.asarray(cv.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.confidence,
                                          self.nms), int).reshape(-1)
        return boxes[keep], scores[keep], rows[keep, 1].astype(int)

    def draw(self, frame, boxes, confidences, classes):
        for (x, y, w, h), score, k in zip(boxes, confidences, classes):
            colour = self.colours.get(int(k), (0, 255, 0))
            cv.rectangle(frame, (int(x), int(y)), (int(x + w), int(y + h)), colour, 1)
            text = "%s %.2f" % (self.names.get(int(k), k), score)
            (tw, th), base = cv.getTextSize(text, cv.FONT_HERSHEY_SIMPLEX, 0.35, 1)
            top = max(int(y), th)
            cv.rectangle(frame, (int(x), top - th), (int(x) + tw, top + base), (255, 255, 255),
                         cv.FILLED)
            cv.putText(frame, text, (int(x), top), cv.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1)
        return frame
