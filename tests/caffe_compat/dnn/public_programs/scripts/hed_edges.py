"""Edge maps with Holistically-Nested Edge Detection (Xie and Tu, 2015) in cv2.dnn, its Caffe
``Crop`` layers replaced by a layer written in Python.

    python hed_edges.py --prototxt deploy.prototxt --caffemodel hed.caffemodel
                        [--input VIDEO] [--width 500] [--height 500]

``cv.dnn_registerLayer("Crop", CentreCrop)`` makes every ``Crop`` of the file an instance of
``CentreCrop``: OpenCV asks it for its output shapes (``getMemoryShapes``) and then for its
outputs (``forward``). The layer cuts its first input to the height and width of its second,
keeping the middle (HED's upsampled side outputs are a few pixels larger than the image).
"""
import argparse

import cv2 as cv

# the per-channel BGR means HED was trained with
HED_MEAN = (104.00698793, 116.66876762, 122.67891434)


class CentreCrop:
    """A Python layer for cv2.dnn: input 0 cut to input 1's spatial size, centred."""

    def __init__(self, params, blobs):
        self.rows = slice(0, 0)
        self.cols = slice(0, 0)

    def getMemoryShapes(self, inputs):
        source, reference = inputs[0], inputs[1]
        top = (source[2] - reference[2]) // 2
        left = (source[3] - reference[3]) // 2
        self.rows = slice(top, top + reference[2])
        self.cols = slice(left, left + reference[3])
        return [[source[0], source[1], reference[2], reference[3]]]

    def forward(self, inputs):
        return [inputs[0][:, :, self.rows, self.cols]]


def options():
    p = argparse.ArgumentParser(description="HED edge maps of the frames of a video")
    p.add_argument("--input", help="image or video file; a camera when left out")
    p.add_argument("--prototxt", required=True, help="HED's deploy.prototxt")
    p.add_argument("--caffemodel", required=True, help="HED's weights")
    p.add_argument("--width", type=int, default=500, help="the net's input width")
    p.add_argument("--height", type=int, default=500, help="the net's input height")
    return p.parse_args()


opt = options()
cv.dnn_registerLayer("Crop", CentreCrop)
definition = cv.samples.findFile(opt.prototxt)
trained = cv.samples.findFile(opt.caffemodel)
net = cv.dnn.readNet(definition, trained)

cv.namedWindow("frame", cv.WINDOW_NORMAL)
cv.namedWindow("edges", cv.WINDOW_NORMAL)
video = cv.VideoCapture(opt.input if opt.input else 0)
while cv.waitKey(1) < 0:
    ok, frame = video.read()
    if not ok:
        cv.waitKey()
        break
    cv.imshow("frame", frame)
    net.setInput(cv.dnn.blobFromImage(frame, scalefactor=1.0, size=(opt.width, opt.height),
                                      mean=HED_MEAN, swapRB=False, crop=False))
    fused = net.forward()[0, 0]
    out = cv.resize(fused, (frame.shape[1], frame.shape[0]))
    cv.imshow("edges", out)
cv.dnn_unregisterLayer("Crop")
