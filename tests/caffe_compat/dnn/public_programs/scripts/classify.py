"""Image classification with cv2.dnn: a Caffe classifier on every frame of a video (or a
camera), the k best classes printed and written on the frame.

    python classify.py --model M.caffemodel --config M.prototxt --width 224 --height 224
                       [--input VIDEO] [--mean B G R] [--scale S] [--rgb] [--top K]
                       [--classes NAMES.txt] [--backend ID] [--target ID]

The blob is ``cv.dnn.blobFromImage(frame, scale, (width, height), mean, rgb, crop=False)``;
the net's single output holds one probability per class.
"""
import argparse

import cv2 as cv
import numpy as np


def options():
    p = argparse.ArgumentParser(description="classify the frames of a video with a Caffe net")
    p.add_argument("--input", help="image or video file; a camera when left out")
    p.add_argument("--model", required=True, help="weights (.caffemodel)")
    p.add_argument("--config", help="net definition (.prototxt)")
    p.add_argument("--framework", help="the models' framework when their names do not tell")
    p.add_argument("--classes", help="text file, one class name a line")
    p.add_argument("--mean", nargs="+", type=float, default=[0.0, 0.0, 0.0],
                   help="subtracted from the pixels, in BGR order")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the pixels after the mean")
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--rgb", action="store_true", help="the net reads RGB, not BGR")
    p.add_argument("--top", type=int, default=5, help="how many classes to report")
    p.add_argument("--backend", type=int, default=cv.dnn.DNN_BACKEND_DEFAULT)
    p.add_argument("--target", type=int, default=cv.dnn.DNN_TARGET_CPU)
    return p.parse_args()


def class_name(names, index):
    return names[index] if names else f"class {index}"


opt = options()
names = None
if opt.classes:
    with open(opt.classes, encoding="utf-8") as fh:
        names = [line.strip() for line in fh if line.strip()]

if opt.framework:
    net = cv.dnn.readNet(opt.model, opt.config, opt.framework)
else:
    net = cv.dnn.readNet(opt.model, opt.config)
net.setPreferableBackend(opt.backend)
net.setPreferableTarget(opt.target)

window = "classes"
cv.namedWindow(window, cv.WINDOW_NORMAL)
video = cv.VideoCapture(opt.input if opt.input else 0)
while cv.waitKey(1) < 0:
    ok, frame = video.read()
    if not ok:
        cv.waitKey()
        break
    blob = cv.dnn.blobFromImage(frame, opt.scale, (opt.width, opt.height), opt.mean,
                                opt.rgb, crop=False)
    net.setInput(blob)
    out = net.forward()
    probabilities = out.reshape(-1)
    top = np.argsort(-probabilities, kind="stable")[:opt.top]
    classId = int(top[0])
    confidence = float(probabilities[classId])
    print("best classes:", " ".join(class_name(names, int(k)) for k in top))

    ticks, _ = net.getPerfProfile()
    cv.putText(frame, "forward: %.1f ms" % (1000.0 * ticks / cv.getTickFrequency()), (4, 14),
               cv.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0))
    cv.putText(frame, "%s (%.3f)" % (class_name(names, classId), confidence), (4, 30),
               cv.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0))
    cv.imshow(window, frame)
