"""Colour for grey frames with Zhang, Isola and Efros's colorization net (ECCV 2016) in
cv2.dnn.

    python colorize.py --prototxt colorization_deploy_v2.prototxt
                       --caffemodel colorization_release_v2.caffemodel
                       --kernel pts_in_hull.npy [--input VIDEO]

The net reads the lightness L of a 224 x 224 image (minus 50) and gives, per pixel, a
distribution over 313 quantised (a, b) colours. Two of its layers are set from Python before
the forward, through ``net.getLayer(id).blobs``: ``class8_ab``, a 1 x 1 convolution whose 2 x 313
kernel holds the colours' (a, b) centres (the distribution's mean colour), and
``conv8_313_rh``, a Scale by 2.606 (the softmax's inverse temperature, 1 / 0.38).
"""
import argparse

import cv2 as cv
import numpy as np

SIDE = 224
TEMPERATURE_SCALE = 2.606
SHOWN = (640, 480)


def options():
    p = argparse.ArgumentParser(description="colourise the frames of a video")
    p.add_argument("--input", help="image or video file; a camera when left out")
    p.add_argument("--prototxt", default="colorization_deploy_v2.prototxt")
    p.add_argument("--caffemodel", default="colorization_release_v2.caffemodel")
    p.add_argument("--kernel", default="pts_in_hull.npy", help="the 313 (a, b) centres")
    return p.parse_args()


def set_layer_blobs(net, centres):
    """The decoding kernel and the temperature, put into the loaded net."""
    kernel = np.asarray(centres, np.float32).T.reshape(2, len(centres), 1, 1)
    net.getLayer(net.getLayerId("class8_ab")).blobs = [kernel]
    scale = np.full((1, len(centres)), TEMPERATURE_SCALE, np.float32)
    net.getLayer(net.getLayerId("conv8_313_rh")).blobs = [scale]


def colourise(net, frame):
    """(ab at the net's resolution, the frame in colour as float BGR in [0, 1])."""
    rgb = np.ascontiguousarray(frame[:, :, ::-1], dtype=np.float32) / 255.0
    lightness = cv.cvtColor(rgb, cv.COLOR_RGB2Lab)[:, :, 0]
    small = cv.cvtColor(cv.resize(rgb, (SIDE, SIDE)), cv.COLOR_RGB2Lab)[:, :, 0] - 50.0
    net.setInput(cv.dnn.blobFromImage(small))
    ab = net.forward("class8_ab")[0].transpose(1, 2, 0)
    ab_full = cv.resize(ab, (frame.shape[1], frame.shape[0]))
    lab = np.dstack([lightness, ab_full])
    return ab, np.clip(cv.cvtColor(lab, cv.COLOR_Lab2BGR), 0.0, 1.0)


if __name__ == "__main__":
    opt = options()
    net = cv.dnn.readNetFromCaffe(opt.prototxt, opt.caffemodel)
    set_layer_blobs(net, np.load(opt.kernel))
    video = cv.VideoCapture(opt.input if opt.input else 0)
    while cv.waitKey(1) < 0:
        ok, frame = video.read()
        if not ok:
            cv.waitKey()
            break
        ab_dec, img_bgr_out = colourise(net, frame)
        cv.imshow("input", cv.resize(frame, SHOWN))
        cv.imshow("grey", cv.cvtColor(cv.resize(frame, SHOWN), cv.COLOR_BGR2GRAY))
        cv.imshow("colourised", cv.resize(img_bgr_out, SHOWN))
