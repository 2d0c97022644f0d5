"""Objects tracked through a video: MobileNet-SSD detections in every frame (cv2.dnn), linked
into numbered tracks.

    python track_objects.py --video V --weights W.caffemodel --config W.prototxt
                            --labels NAMES.json [--confidence 0.5] [--nms 0.2]

Besides drawing, the program keeps what it found (its globals at the end): ``detections``,
every frame's raw SSD rows one after the other with their first column (the image's index in
its batch, 0 here) set to the frame's number; ``bboxes``, ``confidences``, ``class_ids``, the
detections left after NMS, frame after frame; ``tracks``, one row per track per frame it was
seen in (frame, track, class, x, y, w, h).
"""
import argparse

import cv2 as cv
import numpy as np

from tracking import OverlapTracker, SSDDetector


def options():
    p = argparse.ArgumentParser(description="track the objects of a video")
    p.add_argument("--video", required=True, help="a video file or an image sequence (%%d)")
    p.add_argument("--weights", required=True, help="MobileNet-SSD's .caffemodel")
    p.add_argument("--config", required=True, help="its .prototxt")
    p.add_argument("--labels", required=True, help="JSON: class index -> name")
    p.add_argument("--confidence", type=float, default=0.5)
    p.add_argument("--nms", type=float, default=0.2)
    return p.parse_args()


opt = options()
detector = SSDDetector(opt.weights, opt.config, opt.labels, opt.confidence, opt.nms)
tracker = OverlapTracker()
raw, kept, rows = [], [], []
video = cv.VideoCapture(opt.video)
frame_number = 0
while True:
    ok, frame = video.read()
    if not ok:
        print("video over after %d frames" % frame_number)
        break
    out = detector.forward(frame).reshape(-1, 7).copy()
    out[:, 0] = frame_number
    raw.append(out)
    boxes, scores, classes = detector.select(out, frame.shape[1], frame.shape[0])
    kept.append((boxes, scores, classes))
    seen = tracker.update(boxes, scores, classes)
    rows += [(frame_number, t.number, t.class_id) + t.box for t in seen]
    print("frame %d: %d detections, %d tracks seen, %d opened so far"
          % (frame_number, len(boxes), len(seen), tracker.next_number))
    detector.draw(frame, boxes, scores, classes)
    for t in seen:
        cv.putText(frame, "#%d" % t.number, (t.box[0], t.box[1] + t.box[3]),
                   cv.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1)
    cv.imshow("tracks", frame)
    frame_number += 1
    if cv.waitKey(1) & 0xFF == ord("q"):
        break
video.release()
cv.destroyAllWindows()

detections = np.concatenate(raw)[None, None]
bboxes = np.concatenate([k[0] for k in kept])
confidences = np.concatenate([k[1] for k in kept])
class_ids = np.concatenate([k[2] for k in kept])
tracks = np.array(rows, int).reshape(-1, 7)
