"""Port of the original ``pretrain/generate_test.m``: SR validation patches from Set5.

    python -m matlab_ports.generate_test [--folder Test/Set5] [--out test_h5/test_lr12.h5]
        [--scale 12] [--stride 20] [--size-input 32] [--size-label 16] [--chunk 2] [--seed 0]

The same pipeline as :mod:`matlab_ports.generate_train` (see :mod:`matlab_ports.sr_patches`)
with the test script's settings: stride 20 and chunks of 2 patches. With the shared Set5
images: 1,218 patches stored. The list file (``test_h5/test_lr12.txt``) names the HDF5 file for
Caffe's HDF5Data layer.
"""
import sys

from .sr_patches import SCRIPT_SETTINGS, generate_patches, run_cli

__all__ = ["generate_test", "main", "DEFAULTS"]

DEFAULTS = SCRIPT_SETTINGS["generate_test"]


def generate_test(folder=DEFAULTS["folder"], out=DEFAULTS["out"], scale=DEFAULTS["scale"],
                  stride=DEFAULTS["stride"], size_input=DEFAULTS["size_input"],
                  size_label=DEFAULTS["size_label"], chunk=DEFAULTS["chunksz"], seed=0,
                  list_file=None, pattern="*.bmp", progress=True):
    """generate_test.m with the command line's parameters; returns
    :class:`matlab_ports.sr_patches.PatchResult`."""
    return generate_patches(folder, out, scale, stride, size_input, size_label, chunk, seed,
                            list_file, pattern, progress)


def main(argv=None):
    """Command line; returns the exit status."""
    return run_cli("generate_test", argv)


if __name__ == "__main__":
    sys.exit(main())
