"""SR pre-training patches: the shared core of ``pretrain/generate_train.m`` and
``pretrain/generate_test.m`` (SRCNN's data scripts with the paper's settings).

What both scripts do, in order, and what this module reproduces exactly:

1. ``filepaths = dir(fullfile(folder, '*.bmp'))``: the matching files, ordered by name in ASCII
   (byte) order, upper case before lower case; the pattern is matched case-sensitively, as
   MATLAB does on Linux;
2. per image: ``imread``; ``rgb2ycbcr`` on the uint8 image and its Y channel (an image read
   as a single grey channel is taken as its own Y); ``double(Y)/255``;
   ``im_label = modcrop(image, scale)``; ``im_input = imresize(imresize(im_label, 1/scale,
   'bicubic'), [hei wid], 'bicubic')``;
3. patches, image by image, ``x = 1:stride:hei-size_input+1`` (rows, outer loop) and ``y =
   1:stride:wid-size_input+1`` (columns, inner loop): the input patch
   ``im_input(x:x+size_input-1, y:y+size_input-1)`` and the label
   ``im_label(x+padding : x+padding+size_label-1, y+padding : ...)`` with ``padding =
   abs(size_input - size_label)/2``;
4. ``order = randperm(count)`` on MATLAB's default stream (a fresh session: seed 0);
5. ``floor(count/chunksz)`` chunks of ``chunksz`` patches in permuted order, appended with
   ``store2hdf5`` to ``/data`` [size_input size_input 1 N] and ``/label``
   [size_label size_label 1 N] (single, chunked ``chunksz``); the ``count - stored`` patches
   left over are dropped.

Patches are not gathered into one array: the per-image label and input images stay in memory
(a few hundred kilobytes each), the patch list is a table of (image, x, y), and each batch is
copied from the images in permuted order while it is written. The file is the one the scripts
write. It is written atomically (an interrupted run leaves no partial file), followed by a
list file naming it, for Caffe's HDF5Data layer.
"""
from __future__ import annotations

import fnmatch
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import PortError, PortFileError
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["SCRIPT_SETTINGS", "SRImage", "PatchPlan", "PatchResult", "list_images",
           "load_luma", "degrade_pair", "patch_origins", "plan_patches", "write_patches",
           "generate_patches", "build_parser", "run_cli"]

# The settings at the top of the two scripts.
SCRIPT_SETTINGS = {
    "generate_train": dict(folder="Train", out="train_h5/train_lr12.h5", size_input=32,
                           size_label=16, scale=12, stride=14, chunksz=128),
    "generate_test": dict(folder=os.path.join("Test", "Set5"), out="test_h5/test_lr12.h5",
                          size_input=32, size_label=16, scale=12, stride=20, chunksz=2),
}

# Samples handed to the HDF5 writer at once: a multiple of chunksz, so the stored datasets are
# those of the chunk-by-chunk loop (fewer, larger appends are faster).
_WRITE_SAMPLES = 4096


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise PortError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Images


def list_images(folder, pattern="*.bmp"):
    """``dir(fullfile(folder, pattern))`` as the scripts use it: paths of the matching entries,
    in ASCII order of their names (case-sensitive match)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise PortFileError(f"{folder}: image folder not found")
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise PortFileError(f"{folder}: cannot list the folder ({e.strerror or e})") from None
    names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    names.sort(key=lambda n: n.encode("utf-8", "surrogateescape"))
    return [os.path.join(folder, n) for n in names]


def load_luma(path):
    """``image = rgb2ycbcr(imread(path)); double(image(:,:,1))/255`` for an 8-bit image.

    A colour image (H x W x 3) gives the Y channel of ``rgb2ycbcr`` (rounded to uint8 as MATLAB
    does for uint8 input); a grey image (H x W, as ``imread`` returns 8-bit grey files) is taken
    as its own Y, where the script's ``rgb2ycbcr`` would stop on a 2-D array. Other kinds of
    image (16-bit, 1-bit) raise PortFileError naming the file.
    """
    from .color import rgb2ycbcr
    from .mfuncs import imread

    path = os.fspath(path)
    if os.path.isdir(path):
        raise PortFileError(f"{path}: is a folder, expected an image file")
    img = imread(path)
    if img.dtype != np.uint8:
        raise PortFileError(f"{path}: {img.dtype} image; expected an 8-bit grey or RGB image "
                            "(the scripts divide Y by 255)")
    if img.ndim == 3:
        y = rgb2ycbcr(img)[:, :, 0]
    elif img.ndim == 2:
        y = img
    else:
        raise PortFileError(f"{path}: image of shape {img.shape}; expected H x W or H x W x 3")
    return y.astype(np.float64) / 255.0


def degrade_pair(image, scale):
    """``(im_label, im_input)``: ``modcrop(image, scale)`` and its bicubic round trip
    ``imresize(imresize(im_label, 1/scale), [hei wid])``; None for the input when the cropped
    image is empty."""
    from .imresize import imresize
    from .mfuncs import modcrop

    label = modcrop(image, scale)
    hei, wid = label.shape
    if hei == 0 or wid == 0:
        return label, None
    small = imresize(label, scale=1.0 / scale, method="bicubic")
    return label, imresize(small, output_size=(hei, wid), method="bicubic", order="C")


def patch_origins(hei, wid, size_input, stride):
    """0-based (x, y) of the patches of a hei x wid image, x (rows) outer, y (columns) inner."""
    xs = range(0, hei - size_input + 1, stride)
    ys = range(0, wid - size_input + 1, stride)
    if not xs or not ys:
        return np.zeros((0, 2), np.int64)
    gx, gy = np.meshgrid(np.fromiter(xs, np.int64), np.fromiter(ys, np.int64), indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


@dataclass
class SRImage:
    """One image of the folder: its path, the label (modcropped Y) and the degraded input."""
    path: str
    label: np.ndarray
    input: np.ndarray | None
    patches: int = 0


@dataclass
class PatchPlan:
    """Every patch of a folder, in the scripts' order: ``index[k] = (image, x, y)`` (0-based)
    for patch k+1; the images hold the pixel data."""
    images: list
    index: np.ndarray
    size_input: int
    size_label: int
    padding: int

    @property
    def count(self):
        return int(self.index.shape[0])

    def batch(self, which):
        """Patches ``which`` (0-based patch numbers) as HDF5-ordered arrays: data (k, 1,
        size_input, size_input) and label (k, 1, size_label, size_label), float64, where
        ``data[j, 0, i, c] = subim_input(c+1, i+1)`` (MATLAB's [W H C N] stored in HDF5)."""
        si, sl, p = self.size_input, self.size_label, self.padding
        k = len(which)
        data = np.empty((k, 1, si, si), np.float64)
        label = np.empty((k, 1, sl, sl), np.float64)
        for j, n in enumerate(which):
            img, x, y = self.index[n]
            im = self.images[img]
            data[j, 0] = im.input[x:x + si, y:y + si].T
            label[j, 0] = im.label[x + p:x + p + sl, y + p:y + p + sl].T
        return data, label


def plan_patches(folder, scale, stride, size_input, size_label, pattern="*.bmp",
                 progress=False):
    """Read and degrade every image of ``folder``; return the :class:`PatchPlan`."""
    from tqdm import tqdm

    scale = _positive_int(scale, "scale")
    stride = _positive_int(stride, "stride")
    size_input = _positive_int(size_input, "size_input")
    size_label = _positive_int(size_label, "size_label")
    diff = abs(size_input - size_label)
    if diff % 2:
        raise PortError(f"size_input, size_label: padding = abs({size_input} - {size_label})/2 "
                        f"= {diff / 2} is not an integer (MATLAB cannot index with it); "
                        "expected sizes that differ by an even number")
    padding = diff // 2
    paths = list_images(folder, pattern)
    if not paths:
        raise PortFileError(f"{os.fspath(folder)}: no files matching {pattern!r}")
    images, index = [], []
    for k, path in enumerate(tqdm(paths, desc="images", unit="image", disable=not progress)):
        label, inp = degrade_pair(load_luma(path), scale)
        hei, wid = label.shape
        origins = patch_origins(hei, wid, size_input, stride)
        if origins.size and padding + size_label > size_input:
            # only possible with size_label > size_input: the label window may leave the image
            end = origins + padding + size_label
            bad = np.nonzero((end[:, 0] > hei) | (end[:, 1] > wid))[0]
            if bad.size:
                x, y = (int(v) + 1 + padding for v in origins[bad[0]])
                raise PortError(f"{path}: the label window of the patch at ({x - padding}, "
                                f"{y - padding}), rows {x}..{x + size_label - 1}, columns "
                                f"{y}..{y + size_label - 1}, exceeds the {hei} x {wid} image "
                                f"(size_label {size_label} > size_input {size_input}); MATLAB "
                                "stops with an index error here")
        images.append(SRImage(path, label, inp, int(origins.shape[0])))
        if origins.size:
            index.append(np.column_stack([np.full(origins.shape[0], k, np.int64), origins]))
    idx = np.concatenate(index) if index else np.zeros((0, 3), np.int64)
    return PatchPlan(images, idx, size_input, size_label, padding)


# --------------------------------------------------------------------------------------------
# Writing


@dataclass
class PatchResult:
    """What :func:`generate_patches` wrote."""
    out: str
    list_file: str | None
    folder: str
    images: int
    count: int          # patches generated (the scripts' count)
    stored: int         # floor(count/chunksz)*chunksz, written to the file
    chunksz: int
    seed: int
    seconds: float = math.nan
    per_image: list = field(default_factory=list)

    @property
    def dropped(self):
        return self.count - self.stored


def write_patches(plan, out, chunksz, seed=0, progress=False):
    """Shuffle ``plan`` with ``randperm(count)`` (MATLAB stream ``seed``) and write the first
    ``floor(count/chunksz)`` chunks to ``out`` as store2hdf5 does; returns the number stored."""
    from tqdm import tqdm

    from .hdf5 import MatlabH5Writer
    from .rng import MatlabRandomStream

    chunksz = _positive_int(chunksz, "chunksz")
    count = plan.count
    order = MatlabRandomStream(seed).randperm(count) - 1
    stored = (count // chunksz) * chunksz
    if stored == 0:
        raise PortError(f"{os.fspath(out)}: {count} patches, fewer than one chunk of {chunksz}; "
                        "the script writes no file (its h5disp then fails)")
    step = max(chunksz, (_WRITE_SAMPLES // chunksz) * chunksz)
    si, sl = plan.size_input, plan.size_label
    with MatlabH5Writer(out, {"data": (si, si, 1), "label": (sl, sl, 1)}, chunksz) as writer, \
            tqdm(total=stored, desc="patches", unit="patch", disable=not progress) as bar:
        for start in range(0, stored, step):
            which = order[start:min(start + step, stored)]
            data, label = plan.batch(which)
            # the writer takes MATLAB orientation ([W H C k]) and stores its transpose
            writer.append(data=data.transpose(), label=label.transpose())
            bar.update(len(which))
    return stored


def generate_patches(folder, out, scale, stride, size_input, size_label, chunksz, seed=0,
                     list_file=None, pattern="*.bmp", progress=True):
    """The whole script: patches of the images in ``folder`` written to the HDF5 file ``out``
    and ``list_file`` (default: ``out`` with ``.txt`` for ``.h5``) naming it. Returns
    :class:`PatchResult`."""
    start = time.perf_counter()
    out = os.fspath(out)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or \
            not 0 <= seed < 2 ** 32:
        raise PortError(f"seed: expected an integer in [0, 2^32), got {seed!r}")
    chunksz = _positive_int(chunksz, "chunksz")
    if list_file is None:
        list_file = (out[:-3] if out.lower().endswith(".h5") else out) + ".txt"
    if list_file and os.path.abspath(os.fspath(list_file)) == os.path.abspath(out):
        raise PortError(f"{list_file}: the list file cannot be the HDF5 file itself")
    plan = plan_patches(folder, scale, stride, size_input, size_label, pattern, progress)
    stored = write_patches(plan, out, chunksz, seed, progress)
    if list_file:
        from caffe_compat.io.atomic import write_text_atomic

        write_text_atomic(list_file, os.path.abspath(out) + "\n")
    return PatchResult(out, os.fspath(list_file) if list_file else None, os.fspath(folder),
                       len(plan.images), plan.count, stored, chunksz, int(seed),
                       time.perf_counter() - start,
                       [(os.path.basename(im.path), im.patches) for im in plan.images])


# --------------------------------------------------------------------------------------------
# Command line (shared by generate_train and generate_test)


def build_parser(script):
    import argparse

    d = SCRIPT_SETTINGS[script]
    parser = argparse.ArgumentParser(
        prog=f"python -m matlab_ports.{script}",
        description=f"{script}.m: SR pre-training patches (Y channel, bicubic x1/scale round "
                    "trip) shuffled with MATLAB's randperm and written to an HDF5 file for "
                    "Caffe, as the script writes it. Defaults are the script's settings.")
    parser.add_argument("--folder", default=d["folder"],
                        help=f"folder of .bmp images (default {d['folder']!r})")
    parser.add_argument("--out", default=d["out"],
                        help=f"output HDF5 file (default {d['out']!r})")
    parser.add_argument("--list", dest="list_file", default=None,
                        help="list file naming the HDF5 file, for HDF5Data (default: --out with "
                             ".txt for .h5; '' for none)")
    parser.add_argument("--scale", type=int, default=d["scale"],
                        help=f"degradation factor (default {d['scale']})")
    parser.add_argument("--stride", type=int, default=d["stride"],
                        help=f"patch stride in pixels (default {d['stride']})")
    parser.add_argument("--size-input", type=int, default=d["size_input"],
                        help=f"input patch side (default {d['size_input']})")
    parser.add_argument("--size-label", type=int, default=d["size_label"],
                        help=f"label patch side (default {d['size_label']})")
    parser.add_argument("--chunk", type=int, default=d["chunksz"],
                        help=f"chunk size: patches per write and HDF5 chunk; the remainder "
                             f"after whole chunks is dropped (default {d['chunksz']})")
    parser.add_argument("--seed", type=int, default=0,
                        help="MATLAB rng seed before randperm (default 0: a fresh session)")
    parser.add_argument("--pattern", default="*.bmp",
                        help="file name pattern, as the script's dir() (default '*.bmp')")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def run_cli(script, argv=None):
    """Parse ``argv``, run, print what was written where; exit status 0, or 1 on an error."""
    args = build_parser(script).parse_args(argv)
    try:
        res = generate_patches(args.folder, args.out, args.scale, args.stride, args.size_input,
                               args.size_label, args.chunk, args.seed, args.list_file,
                               args.pattern, progress=bars_wanted(args.quiet))
    except PortError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"{res.images} images in {res.folder}: {res.count} patches, {res.stored} stored in "
          f"{res.stored // res.chunksz} chunks of {res.chunksz} ({res.dropped} dropped), "
          f"{res.seconds:.1f} s")
    print(f"wrote {res.out} (data [{args.size_input} {args.size_input} 1 {res.stored}], label "
          f"[{args.size_label} {args.size_label} 1 {res.stored}], single)")
    if res.list_file:
        print(f"wrote {res.list_file} (HDF5Data source list)")
    return 0
