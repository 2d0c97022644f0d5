"""Face detection with the MTCNN cascade (Zhang et al. 2016) through pycaffe's documented calls,
on six photographs: the trained P-Net, R-Net and O-Net read with ``caffe.Net(definition,
weights, caffe.TEST)``; P-Net over an image pyramid (scales ``12 / 20 * 0.709 ** k`` while
the shorter side stays at least 12 px: one input shape per scale and photograph, the input blob
reshaped for each), then R-Net on a batch of 24 x 24 crops and O-Net on a batch of 48 x 48
crops (the batch size changes with every photograph), with the cascade's thresholds (0.6, 0.7,
0.7), non-maximum suppression, box regression and squaring. The photographs go in as the
trained nets take them: RGB, ``(v - 127.5) * 0.0078125``, width before height (MATLAB's
column order). Printed: the faces per photograph, each box and score, and the five landmarks.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). ``setup`` copies the published MTCNN nets and their two test photographs from
``../shared/models/mtcnn`` (or ``$RLQ_SHARED/models/mtcnn``; MIT) and writes scikit-image's
astronaut photograph; the other three photographs are the three mirrored.
"""
import os
import shutil
import sys

NETS = ("det1", "det2", "det3")
PHOTOS = ("test1.jpg", "test2.jpg", "astronaut.png")
MIN_FACE, FACTOR = 20, 0.709
THRESHOLDS = (0.6, 0.7, 0.7)


def setup(workdir):
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(os.path.dirname(here)),
                                                       "..", "shared"))
    source = os.path.join(shared, "models", "mtcnn")
    if not os.path.isdir(source):
        raise SystemExit(f"{os.path.normpath(source)}: the MTCNN nets are not there "
                         "(../shared/models/mtcnn beside the repository, or set RLQ_SHARED to "
                         "the folder holding models/)")
    for name in NETS:
        for ext in (".prototxt", ".caffemodel"):
            shutil.copyfile(os.path.join(source, name + ext), os.path.join(workdir, name + ext))
    for name in PHOTOS[:2]:
        shutil.copyfile(os.path.join(source, name), os.path.join(workdir, name))
    import cv2
    import skimage.data
    cv2.imwrite(os.path.join(workdir, PHOTOS[2]), skimage.data.astronaut()[:, :, ::-1])


def nms(boxes, threshold, by_min=False):
    """Indices kept by greedy non-maximum suppression (highest score first; overlap by the
    union, or by the smaller area)."""
    import numpy as np
    if len(boxes) == 0:
        return np.zeros(0, int)
    x1, y1, x2, y2, score = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(score, kind="stable")
    keep = []
    while order.size:
        i = order[-1]
        keep.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.array(keep, int)


def regress(boxes, reg):
    """Boxes moved by the nets' regression (offsets in units of the box's size)."""
    import numpy as np
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, :4] = boxes[:, :4] + reg * np.stack([w, h, w, h], axis=1)
    return out


def squared(boxes):
    import numpy as np
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    out[:, :4] = np.fix(out[:, :4])
    return out


def crops(image, boxes, size):
    """The batch of ``size`` x ``size`` crops of ``boxes`` (zero outside the image), as the
    nets take them: N x 3 x width x height."""
    import cv2
    import numpy as np
    height, width = image.shape[:2]
    batch = np.zeros((len(boxes), 3, size, size), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(int)):
        patch = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.float32)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width - 1), min(y2, height - 1)
        if sx2 >= sx1 and sy2 >= sy1:
            patch[sy1 - y1:sy2 - y1 + 1, sx1 - x1:sx2 - x1 + 1] = \
                image[sy1:sy2 + 1, sx1:sx2 + 1]
        patch = cv2.resize(patch, (size, size))
        batch[k] = ((patch - 127.5) * 0.0078125).transpose(2, 1, 0)
    return batch


def pycaffe_run(net, batch, outputs):
    """The ``outputs`` of ``net`` for ``batch``, as pycaffe programs ask: the input blob
    reshaped, filled, ``forward()``."""
    net.blobs["data"].reshape(*batch.shape)
    net.blobs["data"].data[...] = batch
    return net.forward()


def detect(image, pnet, rnet, onet, run=pycaffe_run):
    """(boxes with scores, landmarks) of the faces in an RGB image; ``run(net, batch,
    outputs)`` gives ``{output name: array}`` (pycaffe's calls by default)."""
    import cv2
    import numpy as np
    height, width = image.shape[:2]
    scale, side = 12.0 / MIN_FACE, min(height, width) * 12.0 / MIN_FACE
    found = []
    while side >= 12:
        hs, ws = int(np.ceil(height * scale)), int(np.ceil(width * scale))
        resized = cv2.resize(image, (ws, hs), interpolation=cv2.INTER_AREA)
        batch = ((resized - 127.5) * 0.0078125).transpose(2, 1, 0)[None]
        out = run(pnet, np.ascontiguousarray(batch, np.float32), ("prob1", "conv4-2"))
        prob = out["prob1"][0, 1].T                      # height x width
        reg = out["conv4-2"][0].transpose(0, 2, 1)       # 4 x height x width
        ys, xs = np.nonzero(prob >= THRESHOLDS[0])
        if len(ys):
            boxes = np.stack([(2 * xs + 1) / scale, (2 * ys + 1) / scale,
                              (2 * xs + 12) / scale, (2 * ys + 12) / scale, prob[ys, xs]],
                             axis=1)
            boxes = np.concatenate([boxes, reg[:, ys, xs].T], axis=1)
            found.append(boxes[nms(boxes, 0.5)])
        scale *= FACTOR
        side *= FACTOR
    if not found:
        return np.zeros((0, 5)), np.zeros((0, 10))
    boxes = np.concatenate(found)
    boxes = boxes[nms(boxes, 0.7)]
    boxes = squared(regress(boxes[:, :5], boxes[:, 5:9]))
    for net, size, threshold, last in ((rnet, 24, THRESHOLDS[1], False),
                                       (onet, 48, THRESHOLDS[2], True)):
        if not len(boxes):
            return np.zeros((0, 5)), np.zeros((0, 10))
        names = ("prob1", "conv6-2", "conv6-3") if last else ("prob1", "conv5-2")
        out = run(net, crops(image, boxes, size), names)
        score = out["prob1"][:, 1]
        keep = score > threshold
        reg = out["conv5-2" if not last else "conv6-2"][keep]
        boxes = boxes[keep].copy()
        boxes[:, 4] = score[keep]
        if not last:
            kept = nms(boxes, 0.7)
            boxes = squared(regress(boxes[kept], reg[kept]))
            continue
        points = out["conv6-3"][keep]
        w = boxes[:, 2] - boxes[:, 0] + 1
        h = boxes[:, 3] - boxes[:, 1] + 1
        marks = np.concatenate([boxes[:, [0]] + w[:, None] * points[:, :5] - 1,
                                boxes[:, [1]] + h[:, None] * points[:, 5:] - 1], axis=1)
        boxes = regress(boxes, reg)
        keep = nms(boxes, 0.7, by_min=True)
        return boxes[keep], marks[keep]


def photographs(folder="."):
    """The six RGB photographs (float32), the three read and the three mirrored."""
    import cv2
    import numpy as np
    photos = [cv2.imread(os.path.join(folder, name))[:, :, ::-1].astype(np.float32)
              for name in PHOTOS]
    return photos + [p[:, ::-1].copy() for p in photos]


def report(photos, nets, run=pycaffe_run):
    """Print the faces found in each photograph."""
    total = 0
    for k, image in enumerate(photos):
        boxes, marks = detect(image, *nets, run=run)
        total += len(boxes)
        print(f"photograph {k} ({image.shape[1]} x {image.shape[0]}): {len(boxes)} faces")
        for box, mark in zip(boxes, marks):
            print("  box " + " ".join(f"{v:.2f}" for v in box[:4]) + f" score {box[4]:.5f}"
                  + " landmarks " + " ".join(f"{v:.1f}" for v in mark))
    print("faces", total)
    sys.stdout.flush()


def main():
    """Run in the folder ``setup`` wrote."""
    import caffe

    caffe.set_mode_cpu()
    nets = [caffe.Net(f"{name}.prototxt", f"{name}.caffemodel", caffe.TEST) for name in NETS]
    report(photographs(), nets)


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
