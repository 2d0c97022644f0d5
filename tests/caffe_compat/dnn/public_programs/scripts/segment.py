"""Semantic segmentation with cv2.dnn (FCN-8s and other nets whose output is one score map per
class): every pixel takes its best class's colour, blended over the frame, and a legend
window names the colours.

    python segment.py --model M.caffemodel --config M.prototxt --width W --height H
                      [--input VIDEO] [--mean B G R] [--scale S] [--rgb]
                      [--classes NAMES.txt] [--colors COLOURS.txt] [--backend ID] [--target ID]

Without ``--colors`` the palette is drawn from a seeded generator (class 0 black); a colours
file holds one "B G R" line per class.
"""
import argparse

import cv2 as cv
import numpy as np

LEGEND_ROW = 24


def options():
    p = argparse.ArgumentParser(description="segment the frames of a video")
    p.add_argument("--input", help="image or video file; a camera when left out")
    p.add_argument("--model", required=True, help="weights (.caffemodel)")
    p.add_argument("--config", help="net definition (.prototxt)")
    p.add_argument("--framework", help="the models' framework when their names do not tell")
    p.add_argument("--classes", help="text file, one class name a line")
    p.add_argument("--colors", help="text file, one 'B G R' line per class")
    p.add_argument("--mean", nargs="+", type=float, default=[0.0, 0.0, 0.0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--rgb", action="store_true")
    p.add_argument("--backend", type=int, default=cv.dnn.DNN_BACKEND_DEFAULT)
    p.add_argument("--target", type=int, default=cv.dnn.DNN_TARGET_CPU)
    return p.parse_args()


def read_lines(path):
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip()]


def palette(count, rng):
    """``count`` BGR colours, black first, each the next one's half-way point to a random one."""
    colours = [np.zeros(3, np.uint8)]
    while len(colours) < count:
        step = rng.integers(0, 256, 3)
        colours.append(((colours[-1].astype(int) + step) // 2).astype(np.uint8))
    return np.array(colours)


def legend_image(names, colours):
    """One row of LEGEND_ROW pixels per class: its colour and its name."""
    image = np.zeros((LEGEND_ROW * len(names), 180, 3), np.uint8)
    for k, (name, colour) in enumerate(zip(names, colours)):
        row = image[k * LEGEND_ROW:(k + 1) * LEGEND_ROW]
        row[:] = colour
        cv.putText(row, name, (4, LEGEND_ROW * 2 // 3), cv.FONT_HERSHEY_SIMPLEX, 0.45,
                   (255, 255, 255))
    return image


opt = options()
rng = np.random.default_rng(324)
names = read_lines(opt.classes) if opt.classes else None
colours = (np.array([[int(v) for v in line.split()] for line in read_lines(opt.colors)],
                    np.uint8) if opt.colors else None)

if opt.framework:
    net = cv.dnn.readNet(opt.model, opt.config, opt.framework)
else:
    net = cv.dnn.readNet(opt.model, opt.config)
net.setPreferableBackend(opt.backend)
net.setPreferableTarget(opt.target)

window = "segmentation"
cv.namedWindow(window, cv.WINDOW_NORMAL)
legend = None
video = cv.VideoCapture(opt.input if opt.input else 0)
while cv.waitKey(1) < 0:
    ok, frame = video.read()
    if not ok:
        cv.waitKey()
        break
    net.setInput(cv.dnn.blobFromImage(frame, opt.scale, (opt.width, opt.height), opt.mean,
                                      opt.rgb, crop=False))
    score = net.forward()
    if colours is None:
        colours = palette(score.shape[1], rng)
    if len(colours) < score.shape[1]:
        raise SystemExit(f"{opt.colors}: {len(colours)} colours for {score.shape[1]} classes")
    classIds = score[0].argmax(axis=0)
    painted = cv.resize(colours[classIds], (frame.shape[1], frame.shape[0]),
                        interpolation=cv.INTER_NEAREST)
    frame = (0.1 * frame + 0.9 * painted).astype(np.uint8)
    ticks, _ = net.getPerfProfile()
    cv.putText(frame, "forward: %.1f ms" % (1000.0 * ticks / cv.getTickFrequency()), (2, 12),
               cv.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 0))
    counts = np.bincount(classIds.ravel(), minlength=score.shape[1])
    widest = int(counts.argmax())
    print("widest class:", names[widest] if names else widest)
    if names and legend is None:
        if len(names) != score.shape[1]:
            raise SystemExit(f"{opt.classes}: {len(names)} names for {score.shape[1]} classes")
        legend = legend_image(names, colours)
        cv.namedWindow("legend", cv.WINDOW_NORMAL)
        cv.imshow("legend", legend)
    cv.imshow(window, frame)
