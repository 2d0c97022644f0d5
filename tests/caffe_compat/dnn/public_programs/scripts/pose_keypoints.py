"""Body keypoints of one person with an OpenPose body net (Cao et al., 2017) in cv2.dnn.

    python pose_keypoints.py --proto pose.prototxt --model pose.caffemodel --dataset COCO|MPI
                             [--input VIDEO] [--thr 0.1] [--width 368] [--height 368]

The net's output holds one heat map per body part (and a last one for the background); a
part's keypoint is the place of its map's maximum, kept when that maximum exceeds ``--thr``
(one person: no search for several peaks, no part-affinity fields).
"""
import argparse

import cv2 as cv

# the heat maps' order in the nets trained on each data set (the background's map last)
PARTS = {
    "COCO": ["Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
             "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar",
             "LEar", "Background"],
    "MPI": ["Head", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
            "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Chest", "Background"],
}
# the limbs drawn between keypoints
LIMBS = {
    "COCO": [("Neck", "RShoulder"), ("Neck", "LShoulder"), ("RShoulder", "RElbow"),
             ("RElbow", "RWrist"), ("LShoulder", "LElbow"), ("LElbow", "LWrist"),
             ("Neck", "RHip"), ("RHip", "RKnee"), ("RKnee", "RAnkle"), ("Neck", "LHip"),
             ("LHip", "LKnee"), ("LKnee", "LAnkle"), ("Neck", "Nose"), ("Nose", "REye"),
             ("REye", "REar"), ("Nose", "LEye"), ("LEye", "LEar")],
    "MPI": [("Head", "Neck"), ("Neck", "RShoulder"), ("RShoulder", "RElbow"),
            ("RElbow", "RWrist"), ("Neck", "LShoulder"), ("LShoulder", "LElbow"),
            ("LElbow", "LWrist"), ("Neck", "Chest"), ("Chest", "RHip"), ("RHip", "RKnee"),
            ("RKnee", "RAnkle"), ("Chest", "LHip"), ("LHip", "LKnee"), ("LKnee", "LAnkle")],
}


def options():
    p = argparse.ArgumentParser(description="one person's body keypoints with OpenPose")
    p.add_argument("--input", help="image or video file; a camera when left out")
    p.add_argument("--proto", required=True, help="the body net's .prototxt")
    p.add_argument("--model", required=True, help="its .caffemodel")
    p.add_argument("--dataset", choices=sorted(PARTS), required=True,
                   help="the data set the net was trained on (the order of its heat maps)")
    p.add_argument("--thr", type=float, default=0.1, help="smallest heat-map peak kept")
    p.add_argument("--width", type=int, default=368)
    p.add_argument("--height", type=int, default=368)
    return p.parse_args()


def keypoints(heat_maps, size, threshold):
    """Per map, the (x, y) of its maximum in pixels of an image of ``size`` (w, h), or None
    where the maximum is not above ``threshold``."""
    found = []
    rows, cols = heat_maps.shape[-2:]
    for heat in heat_maps:
        _, peak, _, (col, row) = cv.minMaxLoc(heat)
        found.append((int(size[0] * col / cols), int(size[1] * row / rows))
                     if peak > threshold else None)
    return found


opt = options()
parts = PARTS[opt.dataset]
net = cv.dnn.readNetFromCaffe(opt.proto, opt.model)
video = cv.VideoCapture(opt.input if opt.input else 0)
while cv.waitKey(1) < 0:
    ok, frame = video.read()
    if not ok:
        cv.waitKey()
        break
    net.setInput(cv.dnn.blobFromImage(frame, 1.0 / 255, (opt.width, opt.height), (0, 0, 0),
                                      swapRB=False, crop=False))
    out = net.forward()
    if out.shape[1] != len(parts):
        raise SystemExit(f"the net gives {out.shape[1]} maps; {opt.dataset} has {len(parts)}")
    points = keypoints(out[0], (frame.shape[1], frame.shape[0]), opt.thr)
    where = dict(zip(parts, points))
    for a, b in LIMBS[opt.dataset]:
        if where[a] and where[b]:
            cv.line(frame, where[a], where[b], (0, 200, 0), 2)
            for p in (where[a], where[b]):
                cv.ellipse(frame, p, (3, 3), 0, 0, 360, (0, 0, 255), cv.FILLED)
    print("keypoints found: %d of %d" % (sum(p is not None for p in points), len(points)))
    ticks, _ = net.getPerfProfile()
    cv.putText(frame, "%.1f ms" % (ticks * 1000.0 / cv.getTickFrequency()), (8, 16),
               cv.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0))
    cv.imshow("pose", frame)
