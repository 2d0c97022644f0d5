"""``blobFromImage`` / ``blobFromImages`` / ``imagesFromBlob``: OpenCV's own when the installed
cv2 has them (4.x and 5.x do), otherwise the same rules written here (:func:`blob_from_images`,
:func:`images_from_blob`: a 4-D N x C x H x W float32 blob back to a tuple of N H x W x C
images, H x W for one channel):

each image is resized to ``size`` (bilinear) unless it has that size or ``size`` is (0, 0);
with ``crop`` it is first scaled by ``max(W / w, H / h)`` (rounded sizes) and the centre
``size`` cut out (corner at half the excess, rounded); then, in float32, ``(pixel - mean) *
scalefactor`` per channel (with ``swapRB`` the mean's first and third values trade places,
so it is given in the blob's channel order), and the channels are laid out N x C x H x W,
first and third swapped with ``swapRB``."""
from __future__ import annotations

import numpy as np

from ..errors import NetError

CV_8U, CV_32F = 0, 5


def _opencv():
    try:
        import cv2
    except ImportError:            # pragma: no cover - cv2 is a dependency
        return None
    return cv2.dnn if hasattr(cv2.dnn, "blobFromImages") else None


def blobFromImage(image, scalefactor=1.0, size=(0, 0), mean=(), swapRB=False, crop=False,
                  ddepth=CV_32F):
    """An N=1 blob of one H x W (x C) image (see the module docstring)."""
    return blobFromImages([image], scalefactor, size, mean, swapRB, crop, ddepth)


def blobFromImages(images, scalefactor=1.0, size=(0, 0), mean=(), swapRB=False, crop=False,
                   ddepth=CV_32F):
    """An N x C x H x W blob of several images of one size after resizing."""
    dnn = _opencv()
    if dnn is not None:
        mean = () if mean is None else mean if np.ndim(mean) == 0 else tuple(mean)
        return dnn.blobFromImages(list(images), scalefactor, tuple(size or (0, 0)), mean,
                                  swapRB, crop, ddepth)
    return blob_from_images(images, scalefactor, size, mean, swapRB, crop, ddepth)


def blob_from_images(images, scalefactor=1.0, size=(0, 0), mean=(), swapRB=False, crop=False,
                     ddepth=CV_32F):
    """The rules of cv2.dnn.blobFromImages without cv2.dnn (cv2.resize does the resizing)."""
    import cv2
    if ddepth not in (CV_32F, CV_8U):
        raise NetError(f"blobFromImages: ddepth {ddepth}: expected CV_32F (5) or CV_8U (0)")
    mean = ([float(m) for m in (mean if mean is not None else ())] + [0.0] * 4)[:4]
    if ddepth == CV_8U and (scalefactor != 1.0 or any(mean)):
        raise NetError("blobFromImages: scaling and mean subtraction need ddepth=CV_32F")
    if swapRB:
        mean[0], mean[2] = mean[2], mean[0]
    w_out, h_out = (int(size[0]), int(size[1])) if size is not None else (0, 0)
    out = []
    for k, img in enumerate(images):
        img = np.asarray(img)
        if img.ndim not in (2, 3):
            raise NetError(f"blobFromImages: image {k} has shape {img.shape}; expected H x W or "
                           "H x W x C")
        h, w = img.shape[:2]
        if (w_out, h_out) != (0, 0) and (w, h) != (w_out, h_out):
            if crop:
                f = max(w_out / w, h_out / h)
                img = cv2.resize(img, (int(round(w * f)), int(round(h * f))),
                                 interpolation=cv2.INTER_LINEAR)
                y0 = int(round(0.5 * (img.shape[0] - h_out)))
                x0 = int(round(0.5 * (img.shape[1] - w_out)))
                img = img[y0:y0 + h_out, x0:x0 + w_out]
            else:
                img = cv2.resize(img, (w_out, h_out), interpolation=cv2.INTER_LINEAR)
        if img.ndim == 2:
            img = img[:, :, None]
        c = img.shape[2]
        if ddepth == CV_32F:
            img = img.astype(np.float32)
            m = np.array([mean[i] if i < 4 else 0.0 for i in range(c)], np.float32)
            img = (img - m) * np.float32(scalefactor)
        chw = img.transpose(2, 0, 1)
        if swapRB and c >= 3:
            chw = chw[[2, 1, 0] + list(range(3, c))]
        out.append(chw)
    if not out:
        raise NetError("blobFromImages: no images")
    if len({a.shape for a in out}) != 1:
        raise NetError(f"blobFromImages: images of different sizes {[a.shape for a in out]}; "
                       "give size to resize them")
    return np.ascontiguousarray(np.stack(out), dtype=np.float32 if ddepth == CV_32F else
                                np.uint8)


def imagesFromBlob(blob_):
    """The images of an N x C x H x W blob, as cv2.dnn.imagesFromBlob."""
    try:
        import cv2
        own = getattr(cv2.dnn, "imagesFromBlob", None)
    except ImportError:            # pragma: no cover - cv2 is a dependency
        own = None
    return own(blob_) if own is not None else images_from_blob(blob_)


def images_from_blob(blob_):
    """The rule of cv2.dnn.imagesFromBlob without cv2.dnn."""
    blob_ = np.asarray(blob_)
    if blob_.ndim != 4:
        raise NetError(f"imagesFromBlob: blob of shape {blob_.shape}; expected N x C x H x W")
    images = np.ascontiguousarray(blob_.astype(np.float32).transpose(0, 2, 3, 1))
    return tuple(img[:, :, 0] if img.shape[2] == 1 else img for img in images)
