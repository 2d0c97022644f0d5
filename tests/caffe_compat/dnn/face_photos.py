"""Photographs with faces that scikit-image ships, as res10 SSD blobs (300 x 300, BGR minus
the detector's mean 104, 177, 123), for the int8 face-detection measurement: the astronaut
(``skimage.data.astronaut``), the cameraman (``skimage.data.camera``, grey as three channels)
and mosaics of the Labeled Faces in the Wild subset (``skimage.data.lfw_subset``: its first
100 images are faces, 25 x 25 grey; 3 x 3 of them per mosaic, each brought to 100 x 100).

The evaluation set: the two photographs and mosaics of faces 0-35; the calibration set: the
photographs flipped left to right and mosaics of faces 36-71 (other faces, the same kind of
picture), as a user calibrates on pictures like those the detector will see.
"""
import numpy as np

SIZE = 300
MEAN = (104.0, 177.0, 123.0)


def _bgr(img):
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, ::-1])


def _mosaic(faces):
    import cv2
    tile = SIZE // 3
    out = np.zeros((SIZE, SIZE), np.uint8)
    for k, face in enumerate(faces):
        f = cv2.resize((np.asarray(face) * 255).round().astype(np.uint8), (tile, tile),
                       interpolation=cv2.INTER_CUBIC)
        r, c = divmod(k, 3)
        out[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = f
    return out


def images(part):
    """BGR uint8 images of ``part`` ("evaluation" or "calibration"), as listed above."""
    from skimage import data
    photos = [_bgr(data.astronaut()), _bgr(data.camera())]
    lfw = data.lfw_subset()[:100]
    if part == "evaluation":
        mosaics = [_mosaic(lfw[k:k + 9]) for k in range(0, 36, 9)]
    elif part == "calibration":
        photos = [np.ascontiguousarray(p[:, ::-1]) for p in photos]
        mosaics = [_mosaic(lfw[k:k + 9]) for k in range(36, 72, 9)]
    else:
        raise ValueError(part)
    return photos + [_bgr(m) for m in mosaics]


def blob(part):
    """N x 3 x 300 x 300 float32 blob of ``images(part)`` (cv2.dnn.blobFromImage's arithmetic:
    resized to 300 x 300, minus the mean)."""
    import cv2
    out = [cv2.resize(img, (SIZE, SIZE)).astype(np.float32) - np.float32(MEAN)
           for img in images(part)]
    return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2), np.float32)
