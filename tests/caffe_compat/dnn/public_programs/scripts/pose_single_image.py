"""One photograph's body keypoints with the OpenPose MPI body net (the 4-stage "faster"
file), its files at fixed paths under the working folder, as a tutorial script keeps them.

    python pose_single_image.py        (reads single.jpeg, writes keypoints.jpg, skeleton.jpg)

The net's output (``net_output``) holds 16 heat maps then 28 part-affinity maps; the first 15
heat maps are body parts (the 16th is the background). A keypoint is its map's maximum when
above 0.1.
"""
import time

import cv2

PROTOTXT = "pose/mpi/pose_deploy_linevec_faster_4_stages.prototxt"
WEIGHTS = "pose/mpi/pose_iter_160000.caffemodel"
PARTS = 15
# head-neck, the arms from the neck, neck-chest, the legs from the chest
SKELETON = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 14), (14, 8),
            (8, 9), (9, 10), (14, 11), (11, 12), (12, 13)]
SIDE = 368
THRESHOLD = 0.1

image = cv2.imread("single.jpeg")
if image is None:
    raise SystemExit("single.jpeg: no image there")
marked = image.copy()
height, width = image.shape[:2]

net = cv2.dnn.readNetFromCaffe(PROTOTXT, WEIGHTS)
start = time.time()
net.setInput(cv2.dnn.blobFromImage(image, 1.0 / 255, (SIDE, SIDE), (0, 0, 0),
                                   swapRB=False, crop=False))
output = net.forward()
print("forward time: %.3f s" % (time.time() - start))

map_h, map_w = output.shape[2:]
points = []
for part in range(PARTS):
    _, peak, _, (col, row) = cv2.minMaxLoc(output[0, part])
    if peak <= THRESHOLD:
        points.append(None)
        continue
    x, y = int(width * col / map_w), int(height * row / map_h)
    points.append((x, y))
    cv2.circle(marked, (x, y), 4, (0, 255, 255), thickness=-1, lineType=cv2.FILLED)
    cv2.putText(marked, str(part), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1,
                lineType=cv2.LINE_AA)

for a, b in SKELETON:
    if points[a] and points[b]:
        cv2.line(image, points[a], points[b], (0, 255, 255), 2)
        cv2.circle(image, points[a], 4, (0, 0, 255), thickness=-1, lineType=cv2.FILLED)

print("parts found:", " ".join(str(k) for k, p in enumerate(points) if p is not None))
cv2.imshow("keypoints", marked)
cv2.imshow("skeleton", image)
cv2.imwrite("keypoints.jpg", marked)
cv2.imwrite("skeleton.jpg", image)
print("total time: %.3f s" % (time.time() - start))
cv2.waitKey(0)
