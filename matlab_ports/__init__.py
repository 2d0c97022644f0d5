"""MATLAB primitives reimplemented bit-exactly in numpy: image resizing, colour conversion,
class conversions, the default random stream, HDF5 and MAT-file I/O as MATLAB writes them.

Arrays use MATLAB orientation (numpy shape == MATLAB size, rows x cols x channels) and MATLAB
classes map to dtypes (double float64, single float32, logical bool, uintN/intN). Bad input
raises :class:`matlab_ports.errors.PortError`.

The functions ``imresize`` and ``rng`` exported here share their names with the modules that
define them; reach the modules' other names with ``from matlab_ports.imresize import ...``.
"""
from .color import rgb2ycbcr, ycbcr2rgb
from .errors import PortError
from .hdf5 import MatlabH5Writer, h5read, h5size, store2hdf5
from .imresize import imresize
from .matfile import loadmat, savemat
from .mfuncs import (im2double, im2single, im2uint8, imread, imwrite, mean, modcrop, mround, psnr,
                     shave, std, to_class, var)
from .rng import MatlabRandomStream, rand, randperm, rng, unidrnd

__all__ = [
    "PortError", "imresize", "rgb2ycbcr", "ycbcr2rgb", "im2double", "im2single", "im2uint8",
    "imread", "imwrite", "modcrop", "mround", "to_class", "mean", "std", "var", "psnr", "shave",
    "MatlabRandomStream", "rng", "rand", "randperm", "unidrnd", "MatlabH5Writer", "store2hdf5",
    "h5read", "h5size", "loadmat", "savemat",
]
