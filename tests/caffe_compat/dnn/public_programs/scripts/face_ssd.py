"""Faces in a camera's frames with the res10 SSD face detector (a ResNet-10 Single Shot
Detector at 300 x 300) in cv2.dnn; its files at fixed paths under the working folder.

    python face_ssd.py

The net's output is 1 x 1 x N x 7: per detection (image, class, confidence, x0, y0, x1, y1),
the corners as fractions of the image. Detections above 0.5 are drawn; Esc or any key stops.
"""
import cv2 as cv
from cv2 import dnn

DEFINITION = "face_detector/deploy.prototxt"
WEIGHTS = "face_detector/res10_300x300_ssd_iter_140000.caffemodel"
SIDE = 300
MEAN = (104.0, 177.0, 123.0)      # the BGR means the detector was trained with
THRESHOLD = 0.5


def faces(detections, width, height):
    """[(confidence, (x0, y0), (x1, y1))] of the rows above THRESHOLD, corners in pixels."""
    found = []
    for row in detections[0, 0]:
        if row[2] > THRESHOLD:
            x0, y0, x1, y1 = (int(v * s) for v, s in zip(row[3:7], (width, height) * 2))
            found.append((float(row[2]), (x0, y0), (x1, y1)))
    return found


if __name__ == "__main__":
    net = dnn.readNetFromCaffe(DEFINITION, WEIGHTS)
    camera = cv.VideoCapture(0)
    while True:
        ok, frame = camera.read()
        if not ok:
            break
        resized = cv.resize(frame, (SIDE, SIDE))
        net.setInput(dnn.blobFromImage(resized, 1.0, (SIDE, SIDE), MEAN))
        detections = net.forward()
        ticks = net.getPerfProfile()[0]
        print("forward, ms: %.2f" % (1000.0 * ticks / cv.getTickFrequency()))
        found = faces(detections, frame.shape[1], frame.shape[0])
        print("faces above %.1f: %d" % (THRESHOLD, len(found)))
        for confidence, corner0, corner1 in found:
            cv.rectangle(frame, corner0, corner1, (0, 255, 0))
            text = "face %.3f" % confidence
            (tw, th), base = cv.getTextSize(text, cv.FONT_HERSHEY_SIMPLEX, 0.4, 1)
            cv.rectangle(frame, (corner0[0], corner0[1] - th), (corner0[0] + tw, corner0[1] + base),
                         (255, 255, 255), cv.FILLED)
            cv.putText(frame, text, corner0, cv.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0))
        cv.imshow("faces", frame)
        if cv.waitKey(1) != -1:
            break
