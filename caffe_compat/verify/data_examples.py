"""Generated cases of ``caffe-compat verify`` for the image data layers (Data, ImageData,
WindowData): small PNG images (lossless: every OpenCV decodes them to the same pixels), an LMDB
of raw and of encoded Datums, an image list and a window file in the case's folder; both
engines read them in TRAIN phase after the same ``Caffe::set_random_seed`` (random crops,
mirrors, shuffles and window draws), several batches in a row so that the sources wrap around.
"""
from __future__ import annotations

import numpy as np

N_IMAGES = 6


def _write_images(folder, rng):
    """N_IMAGES PNG files of varied sizes; returns [(name, H x W x 3 BGR pixels)]."""
    import cv2
    out = []
    for k in range(N_IMAGES):
        h, w = 9 + (k * 5) % 7, 10 + (k * 3) % 8
        img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        name = f"img{k}.png"
        if not cv2.imwrite(str(folder / name), img):
            raise OSError(f"could not write {folder / name}")
        out.append((name, img))
    return out


def lmdb_files(encoded):
    """files(folder, rng) of a Data case: an LMDB ``db`` of raw (or PNG-encoded) Datums."""
    def files(folder, rng):
        from ..data.db import create_db
        from ..data.images import encoded_datum, raw_datum
        images = _write_images(folder, rng)
        with create_db(folder / "db", "lmdb") as db:
            for k, (name, img) in enumerate(images):
                if encoded:
                    datum = encoded_datum((folder / name).read_bytes(), k % 3)
                else:
                    datum = raw_datum(img.transpose(2, 0, 1), k % 3)
                db.put(f"{k:08d}_{name}".encode(), datum.SerializeToString())
    return files


def list_files(folder, rng):
    """files(folder, rng) of an ImageData case: the images and ``list.txt``."""
    images = _write_images(folder, rng)
    (folder / "list.txt").write_text("".join(f"{name} {k % 4}\n"
                                             for k, (name, _) in enumerate(images)))


def window_files(folder, rng):
    """files(folder, rng) of a WindowData case: the images and ``windows.txt`` (Caffe's
    window file: per image its path, channels, height, width and windows
    ``class overlap x1 y1 x2 y2``), with foreground and background windows in each."""
    images = _write_images(folder, rng)
    lines = []
    for k, (name, img) in enumerate(images):
        h, w = img.shape[:2]
        windows = []
        for j in range(3):
            x1, y1 = rng.randint(0, w // 2), rng.randint(0, h // 2)
            x2, y2 = rng.randint(x1 + 2, w), rng.randint(y1 + 2, h)
            overlap = (0.6, 0.85, 0.2)[j] if j < 2 else rng.uniform(0.0, 0.4)
            cls = 1 + (k + j) % 3 if overlap >= 0.5 else 0
            windows.append(f"{cls} {overlap:.3f} {x1} {y1} {x2} {y2}")
        lines += [f"# {k}", name, "3", str(h), str(w), str(len(windows))] + windows
    (folder / "windows.txt").write_text("\n".join(lines) + "\n")


def data_examples(Example):
    """{type: [Example]} of the data layers (``Example`` from examples.py)."""
    def ex(fields, files, seed, phase="TRAIN"):
        return Example((), fields, tops=2, backward=False, forwards=3, files=files,
                       top_names=("data", "label"), phase=phase, seed=seed)
    return {
        "Data": [
            ex('data_param { source: "db" backend: LMDB batch_size: 4 } transform_param { '
               "crop_size: 7 mirror: true mean_value: 100 mean_value: 110 mean_value: 120 "
               "scale: 0.5 }", lmdb_files(False), 1701),
            ex('data_param { source: "db" backend: LMDB batch_size: 3 } transform_param { '
               "crop_size: 8 mirror: true force_gray: true }", lmdb_files(True), 3),
            ex('data_param { source: "db" backend: LMDB batch_size: 4 } transform_param { '
               "crop_size: 6 }", lmdb_files(False), 5, phase="TEST")],
        "ImageData": [
            ex('image_data_param { source: "list.txt" batch_size: 4 shuffle: true '
               "new_height: 9 new_width: 10 } transform_param { crop_size: 7 mirror: true }",
               list_files, 29),
            ex('image_data_param { source: "list.txt" batch_size: 3 is_color: false '
               "rand_skip: 4 } transform_param { crop_size: 8 mean_value: 100 }",
               list_files, 31)],
        "WindowData": [
            ex('window_data_param { source: "windows.txt" batch_size: 4 fg_fraction: 0.5 '
               'context_pad: 2 crop_mode: "square" } transform_param { crop_size: 8 '
               "mirror: true mean_value: 100 mean_value: 110 mean_value: 120 }",
               window_files, 41),
            ex('window_data_param { source: "windows.txt" batch_size: 4 } transform_param { '
               "crop_size: 6 mirror: true }", window_files, 43)],
    }
