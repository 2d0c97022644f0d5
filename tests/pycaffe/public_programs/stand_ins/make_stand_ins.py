"""Writes the committed stand-in images (run once; the outputs are committed beside this file).

cat_gray.jpg (100x100, grey) is the image scripts/designer_filters.py filters; cat.jpg (40x48,
colour) is the image scripts/classify_cli.py classifies. Both are smooth seeded patterns, so
they compress to a few KB.
"""
import pathlib

import numpy as np
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent


def pattern(height, width, channels, seed):
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    planes = []
    for _ in range(channels):
        fx, fy, phase = rng.uniform(1, 4, 3)
        planes.append(0.5 + 0.25 * np.sin(2 * np.pi * (fx * x + fy * y) + phase)
                      + 0.25 * (x > rng.uniform(0.3, 0.7)))
    return (np.clip(np.stack(planes, -1), 0, 1) * 255).astype(np.uint8)


if __name__ == "__main__":
    Image.fromarray(pattern(100, 100, 1, 1)[..., 0], "L").save(HERE / "cat_gray.jpg", quality=90)
    Image.fromarray(pattern(40, 48, 3, 2), "RGB").save(HERE / "cat.jpg", quality=90)
