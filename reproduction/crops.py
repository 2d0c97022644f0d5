"""The data steps' helpers: the LR-s degradation of prepare_dataset.m applied to HR crops,
the sequence listing of a crops folder, and the plan of SR-FCN patches drawn from faces."""
from __future__ import annotations

import os
import re

import numpy as np

from .errors import ReproductionError


def degrade_video(video, s):
    """``imresize(imresize(face, 1/s, 'bicubic'), [96 96], 'bicubic')`` of every frame of a
    96x96xN crops array, in single as prepare_dataset.m computes it (its crops are single values
    saved in a double array); returns the input's class (double holding single values, or
    single)."""
    from matlab_ports.imresize import imresize
    v = np.asarray(video)
    v32 = v.astype(np.float32)
    if v.dtype == np.float64:
        same = v32.astype(np.float64) == v
        if not same.all() and not np.isnan(v[~same]).all():
            raise ReproductionError("crops: the video holds values that are not single "
                                    "precision; expected prepare_dataset.m's crops")
    small = imresize(v32, scale=1.0 / float(s), method="bicubic")
    back = imresize(small, output_size=v32.shape[:2], method="bicubic")
    out_dtype = np.float32 if v.dtype == np.float32 else np.float64
    return np.asarray(back, dtype=out_dtype).reshape(v.shape)


def sequence_names(folder, prefix):
    """``<prefix>_<k>`` names of ``folder``'s ``.mat`` or ``.mp4`` files, in natural order."""
    from matlab_ports.run_eval import natural_key
    names = set()
    for f in os.listdir(folder):
        stem, ext = os.path.splitext(f)
        if ext in (".mat", ".mp4") and re.fullmatch(rf"{prefix}_\d+", stem):
            names.add(stem)
    return sorted(names, key=natural_key)


def derive_lr_crops(hr_dir, out_dir, s, sequences, mat_version="6", progress=True):
    """Write ``<out_dir>/<seq>.mat`` = the HR crops of ``hr_dir`` degraded by ``s``
    (:func:`degrade_video`), with the same ``valence`` and ``video_time``."""
    from tqdm import tqdm

    from matlab_ports.matfile import loadmat, savemat
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in tqdm(sequences, desc=f"LR-{s} crops", unit="seq", disable=not progress,
                     leave=False):
        src = os.path.join(hr_dir, name + ".mat")
        dst = os.path.join(out_dir, name + ".mat")
        if os.path.exists(dst):
            written.append(dst)
            continue
        d = loadmat(src)
        if "video" not in d or "valence" not in d:
            raise ReproductionError(f"{src}: expected video and valence (prepare_dataset.m's "
                                    "crops)")
        variables = {"video": degrade_video(d["video"], s), "valence": d["valence"]}
        if "video_time" in d:
            variables["video_time"] = d["video_time"]
        savemat(dst, variables, version=mat_version)
        written.append(dst)
    return written


def face_patch_plan(crops_dir, sequences, scale, face_step=10, stride=14, size_input=32,
                    size_label=16, progress=True):
    """A :class:`matlab_ports.sr_patches.PatchPlan` of SR patches cut from HR face crops (every
    ``face_step``-th frame of each sequence) instead of the 91 images: each face is the label
    image (``modcrop`` by ``scale``), its bicubic round trip by ``scale`` the input, in double,
    as generate_train.m treats an image."""
    from tqdm import tqdm

    from matlab_ports.matfile import loadmat
    from matlab_ports.sr_patches import PatchPlan, SRImage, degrade_pair, patch_origins
    images, index = [], []
    for name in tqdm(sequences, desc=f"SR patches x{scale}", unit="seq", disable=not progress,
                     leave=False):
        path = os.path.join(crops_dir, name + ".mat")
        video = np.asarray(loadmat(path)["video"], dtype=np.float64)
        if video.ndim == 2:
            video = video[:, :, None]
        for n in range(0, video.shape[2], face_step):
            label, inp = degrade_pair(np.ascontiguousarray(video[:, :, n]), scale)
            if inp is None:
                continue
            origins = patch_origins(label.shape[0], label.shape[1], size_input, stride)
            if not origins.size:
                continue
            k = len(images)
            images.append(SRImage(f"{path}#{n + 1}", label, inp, int(origins.shape[0])))
            index.append(np.column_stack([np.full(origins.shape[0], k, np.int64), origins]))
    if not index:
        raise ReproductionError(f"{crops_dir}: no face crop large enough for SR patches")
    return PatchPlan(images, np.concatenate(index), size_input, size_label,
                     abs(size_input - size_label) // 2)
