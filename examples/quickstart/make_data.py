"""Write the quickstart's HDF5 files: 8x8 grey patches whose label is their mean brightness
minus 0.5, 64 for training and 32 for the test passes (seeded: the same values every run).

    python examples/quickstart/make_data.py

Run from the repository root, where the solver's paths start (Caffe reads every path relative
to the working directory, and so do the HDF5 lists written here)."""
import os

import h5py
import numpy as np

from caffe_compat.io.atomic import atomic_path, write_text_atomic

HERE = os.path.join("examples", "quickstart")


def write(name, count, rng):
    level = rng.uniform(0.0, 1.0, size=(count, 1, 1, 1))
    data = np.clip(level + rng.normal(0.0, 0.1, size=(count, 1, 8, 8)), 0.0, 1.0)
    data = data.astype(np.float32)
    label = (data.mean(axis=(1, 2, 3)) - 0.5).reshape(count, 1).astype(np.float32)
    path = os.path.join(HERE, f"{name}.h5")
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset("data", data=data)
            h5.create_dataset("label", data=label)
    write_text_atomic(os.path.join(HERE, f"{name}_h5_list.txt"), path + "\n")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    write("train", 64, rng)
    write("test", 32, rng)
