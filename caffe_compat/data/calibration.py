"""Inputs for reduced precision (calibration and evaluation sets) read from a source on disk,
one blob per net input, as the net's forward takes them. The source is either

* a folder of images (``.jpg .jpeg .png .bmp .ppm .pgm .pbm .tif .tiff .webp``, in name
  order, sub-folders not read), for a net of one input: each read by OpenCV in BGR order
  (grey for one channel), resized to the input's H x W with INTER_LINEAR (Caffe's
  ``ReadImageToCVMat``), with ``swap_rb`` the first and third channels exchanged, then
  ``(pixel - mean) * scale``: ``cv2.dnn.blobFromImage(image, scalefactor=scale, size=(W, H),
  mean=mean, swapRB=swap_rb)``'s arithmetic (the mean in the order fed, after the swap);
* or an HDF5 list file (as ``HDF5Data``'s ``source``,
  :func:`caffe_compat.data.hdf5.read_source_list`): per net input the dataset of its name (a
  net of one input also takes ``data``), rows in file order, fed as stored; a ``label``
  dataset where present is read as the labels.

The blobs are float32 N x C x H x W (each input's shape after the batch axis must be the
net's). ``limit`` reads at most that many items (the first ones)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff",
                    ".webp")


class InputSet:
    """Blobs read from a source: ``feeds`` ({input name: float32 N x ... array}), ``labels``
    (an array of N, or None), ``names`` (one name per item: the image file, or
    ``file.h5[row]``), ``source`` (the path) and ``kind`` (``"images"`` or ``"hdf5"``)."""

    def __init__(self, feeds, labels, names, source, kind):
        self.feeds, self.labels, self.names = feeds, labels, names
        self.source, self.kind = source, kind

    def __len__(self):
        return len(self.names)

    def batch(self, start, stop):
        """``{input: array}`` of items ``start:stop``."""
        return {k: np.ascontiguousarray(v[start:stop]) for k, v in self.feeds.items()}


def _parse_triple(value, what):
    """A mean given as one number or as ``B,G,R`` (a string or a sequence) -> floats."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", ",").split(",") if p]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise DataError(f"{what} {value!r}: expected a number or comma-separated numbers "
                            "(one per channel, e.g. 104,117,123)") from None
    values = np.atleast_1d(np.asarray(value, np.float64)).ravel()
    if values.size == 0:
        raise DataError(f"{what}: no value given")
    return values


def image_files(folder):
    """The image files of ``folder`` (module doc), sorted by name."""
    names = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS)
                   and os.path.isfile(os.path.join(folder, f)))
    if not names:
        raise DataError(f"{folder}: no image file in this folder (looked for "
                        f"{' '.join(IMAGE_EXTENSIONS)})")
    return [os.path.join(folder, f) for f in names]


def read_images(folder, inputs, limit=None, mean=None, scale=1.0, swap_rb=False):
    """:class:`InputSet` of the images of ``folder`` for a net whose ``inputs`` are
    ``{name: shape}`` (N x C x H x W or C x H x W; module doc)."""
    if len(inputs) != 1:
        raise DataError(f"{folder}: a folder of images feeds a net of one input; this net has "
                        f"{len(inputs)} ({', '.join(inputs)}): give an HDF5 list file with a "
                        "dataset per input")
    (name, shape), = inputs.items()
    shape = tuple(int(d) for d in shape)
    if len(shape) < 3:
        raise DataError(f"{folder}: input '{name}' has shape {shape}; images feed a "
                        "C x H x W input")
    c, h, w = shape[-3:]
    if c not in (1, 3):
        raise DataError(f"{folder}: input '{name}' takes {c} channels; images give 1 (grey) "
                        "or 3 (BGR)")
    means = _parse_triple(mean, "mean")
    if means is not None and means.size not in (1, c):
        raise DataError(f"mean {list(means)}: give one value or {c} (one per channel of "
                        f"input '{name}')")
    files = image_files(folder)[:limit] if limit else image_files(folder)
    from .images import read_image
    blobs = []
    for path in files:
        img = read_image(path, h, w, is_color=c == 3)
        if img is None:
            raise DataError(f"{path}: OpenCV cannot read this image")
        x = img.astype(np.float32)
        if swap_rb and c == 3:
            x = x[:, :, ::-1]
        if means is not None:
            x = x - means.astype(np.float32)
        x = x * np.float32(scale)
        blobs.append(np.ascontiguousarray(x.transpose(2, 0, 1)))
    feeds = {name: np.stack(blobs).astype(np.float32)}
    return InputSet(feeds, None, [os.path.basename(f) for f in files], folder, "images")


def read_hdf5_list(list_path, inputs, limit=None):
    """:class:`InputSet` of the datasets of the files that ``list_path`` names (module doc)."""
    import h5py
    from .hdf5 import read_source_list
    files = read_source_list(list_path)
    per_input = {n: [] for n in inputs}
    labels, names, count = [], [], 0
    for path in files:
        with h5py.File(path, "r") as f:
            rows = None
            for n, shape in inputs.items():
                key = n if n in f else ("data" if len(inputs) == 1 and "data" in f else None)
                if key is None:
                    raise DataError(f"{path}: no dataset '{n}' (the net's input"
                                    f"{'' if len(inputs) == 1 else ' ' + repr(n)}); it has "
                                    f"{', '.join(sorted(f.keys())) or 'none'}")
                ds = f[key]
                want = tuple(int(d) for d in shape)[1 if len(shape) == 4 else 0:]
                if tuple(ds.shape[1:]) != want[-len(ds.shape[1:]):] or \
                        int(np.prod(ds.shape[1:])) != int(np.prod(want)):
                    raise DataError(f"{path}: dataset '{key}' has rows of shape "
                                    f"{tuple(ds.shape[1:])}; the net's input '{n}' takes "
                                    f"{want}")
                rows = ds.shape[0] if rows is None else min(rows, ds.shape[0])
            take = rows if limit is None else max(0, min(rows, limit - count))
            for n in inputs:
                key = n if n in f else "data"
                per_input[n].append(np.asarray(f[key][:take], np.float32))
            if "label" in f:
                labels.append(np.asarray(f["label"][:take]).reshape(take, -1)[:, 0])
            names += [f"{os.path.basename(path)}[{r}]" for r in range(take)]
            count += take
        if limit is not None and count >= limit:
            break
    if count == 0:
        raise DataError(f"{list_path}: the HDF5 files hold no rows")
    feeds = {}
    for n, parts in per_input.items():
        shape = tuple(int(d) for d in inputs[n])
        feeds[n] = np.ascontiguousarray(np.concatenate(parts).reshape((count,) + shape[1:]),
                                        np.float32)
    lab = np.concatenate(labels) if labels and sum(map(len, labels)) == count else None
    return InputSet(feeds, lab, names, list_path, "hdf5")


def read_inputs(source, inputs, limit=None, mean=None, scale=1.0, swap_rb=False):
    """:class:`InputSet` of ``source``: a folder of images or an HDF5 list file (module doc);
    ``inputs``: the net's ``{input name: N x C x H x W shape}``."""
    path = os.fspath(source)
    if os.path.isdir(path):
        return read_images(path, inputs, limit, mean, scale, swap_rb)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or folder (a calibration / evaluation source "
                        "is a folder of images or an HDF5 list file)")
    if path.lower().endswith((".h5", ".hdf5")):
        raise DataError(f"{path}: an HDF5 source is given as a list file naming the .h5 "
                        "files (as HDF5Data's source), not the .h5 file itself")
    if mean is not None or scale != 1.0 or swap_rb:
        raise DataError(f"{path}: --mean / --scale / --swap-rb apply to a folder of images; "
                        "HDF5 files hold the net's inputs as they are fed")
    return read_hdf5_list(path, inputs, limit)
