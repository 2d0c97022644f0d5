"""Port of the original ``pretrain/generate_train.m``: SR pre-training patches from the 91
training images.

    python -m matlab_ports.generate_train [--folder Train] [--out train_h5/train_lr12.h5]
        [--scale 12] [--stride 14] [--size-input 32] [--size-label 16] [--chunk 128] [--seed 0]

Every ``.bmp`` of the folder (ASCII order of names) -> Y of ``rgb2ycbcr`` / 255 -> ``modcrop``
-> bicubic x1/scale and back -> 32x32 input patches with the centred 16x16 sharp labels every
14 pixels -> ``randperm`` on MATLAB's default stream -> ``floor(count/128)`` chunks of 128
written as ``store2hdf5`` writes them (``/data`` [32 32 1 N], ``/label`` [16 16 1 N], single).
With the shared 91 images: 21,332 patches, 21,248 stored. Besides the HDF5 file, a list file
(``train_h5/train_lr12.txt``) names it for Caffe's HDF5Data layer. See
:mod:`matlab_ports.sr_patches` for the details.
"""
import sys

from .sr_patches import SCRIPT_SETTINGS, generate_patches, run_cli

__all__ = ["generate_train", "main", "DEFAULTS"]

DEFAULTS = SCRIPT_SETTINGS["generate_train"]


def generate_train(folder=DEFAULTS["folder"], out=DEFAULTS["out"], scale=DEFAULTS["scale"],
                   stride=DEFAULTS["stride"], size_input=DEFAULTS["size_input"],
                   size_label=DEFAULTS["size_label"], chunk=DEFAULTS["chunksz"], seed=0,
                   list_file=None, pattern="*.bmp", progress=True):
    """generate_train.m with the command line's parameters; returns
    :class:`matlab_ports.sr_patches.PatchResult`."""
    return generate_patches(folder, out, scale, stride, size_input, size_label, chunk, seed,
                            list_file, pattern, progress)


def main(argv=None):
    """Command line; returns the exit status."""
    return run_cli("generate_train", argv)


if __name__ == "__main__":
    sys.exit(main())
