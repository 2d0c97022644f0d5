"""MATLAB ``rgb2ycbcr`` / ``ycbcr2rgb`` (ITU-R BT.601, studio range), bit-exact.

MATLAB builds, per class, ``T = scale_T * origT`` and ``offset = scale_off * origOffset`` (for the
inverse, ``T = scale_T * inv(origT)`` and ``offset = (scale_off * inv(origT)) * [16;128;128]``) and
evaluates each output channel with ``imlincomb``: ``T(p,1)*R + T(p,2)*G + T(p,3)*B + offset(p)``,
accumulated in double in that order, then converted to the input class (integers: round half
away from zero and saturate; single: rounded to single). ``ycbcr2rgb`` clips floating results to
[0, 1] with MATLAB's ``min(max(x, 0), 1)`` (NaN becomes 0). Inputs are HxWx3 images or Mx3
colormaps of class uint8, uint16, single or double.
"""
import numpy as np

from .errors import PortError
from .mfuncs import as_array, matlab_class, to_class

__all__ = ["rgb2ycbcr", "ycbcr2rgb", "rgb2ycbcr_coefficients", "ycbcr2rgb_coefficients"]

_ORIG_T = ((65.481, 128.553, 24.966),
           (-37.797, -74.203, 112.0),
           (112.0, -93.786, -18.214))
_ORIG_OFFSET = (16.0, 128.0, 128.0)

# inv(_ORIG_T) as MATLAB computes it (LU with partial pivoting, then inversion of the factors,
# LAPACK getrf/getri). Written out bit for bit: other inversion routes differ in the last bits.
_INV_T = tuple(tuple(float.fromhex(h) for h in row) for row in (
    ("0x1.2b404ad012b41p-8", "0x1.44990aba9e56ap-30", "0x1.9a2f673be09eap-8"),
    ("0x1.2b404ad012b41p-8", "-0x1.92bceff356127p-10", "-0x1.a1df408792a7bp-9"),
    ("0x1.2b404ad012b41p-8", "0x1.0337e5c16a36fp-7", "0x1.9b8b2d9a8180ap-27"),
))

_FORWARD_SCALE = {"float": (1 / 255, 1 / 255), "uint8": (1 / 255, 1.0),
                  "uint16": (257 / 65535, 257.0)}
_INVERSE_SCALE = {"float": (255.0, 1.0), "uint8": (255.0, 255.0), "uint16": (65535 / 257, 65535.0)}


def _scale_class(cls):
    return "float" if cls in ("single", "double") else cls


def rgb2ycbcr_coefficients(cls):
    """(T, offset) MATLAB's rgb2ycbcr uses for input class ``cls``."""
    s_t, s_off = _FORWARD_SCALE[_scale_class(cls)]
    t = tuple(tuple(s_t * v for v in row) for row in _ORIG_T)
    return t, tuple(s_off * v for v in _ORIG_OFFSET)


def ycbcr2rgb_coefficients(cls):
    """(T, offset) MATLAB's ycbcr2rgb uses for input class ``cls`` (offset is subtracted)."""
    s_t, s_off = _INVERSE_SCALE[_scale_class(cls)]
    t = tuple(tuple(s_t * v for v in row) for row in _INV_T)
    scaled = tuple(tuple(s_off * v for v in row) for row in _INV_T)
    offset = tuple((row[0] * _ORIG_OFFSET[0] + row[1] * _ORIG_OFFSET[1]) + row[2] * _ORIG_OFFSET[2]
                   for row in scaled)
    return t, offset


def _as_image(x, fname):
    a = as_array(x, "X", ("uint8", "uint16", "single", "double"), min_ndim=2)
    if a.ndim == 2 and a.shape[1] == 3:
        return a.reshape(a.shape[0], 1, 3), True
    if a.ndim == 3 and a.shape[2] == 3:
        return a, False
    raise PortError(f"{fname}: X must be an HxWx3 image or an Mx3 colormap, got shape {a.shape}")


_CHUNK = 1 << 15


def _lincomb(a, t, offset, cls, clip):
    """imlincomb per channel, in cache-sized chunks of pixels."""
    h, w, _ = a.shape
    flat = a.reshape(h * w, 3) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1, 3)
    out = np.empty((h * w, 3), a.dtype)
    for s in range(0, h * w, _CHUNK):
        blk = flat[s:s + _CHUNK]
        r = blk[:, 0].astype(np.float64)
        g = blk[:, 1].astype(np.float64)
        b = blk[:, 2].astype(np.float64)
        acc = np.empty_like(r)
        tmp = np.empty_like(r)
        for p in range(3):
            np.multiply(r, t[p][0], out=acc)
            np.multiply(g, t[p][1], out=tmp)
            np.add(acc, tmp, out=acc)
            np.multiply(b, t[p][2], out=tmp)
            np.add(acc, tmp, out=acc)
            np.add(acc, offset[p], out=acc)
            if clip:
                np.fmax(acc, 0.0, out=acc)
                np.fmin(acc, 1.0, out=acc)
            out[s:s + _CHUNK, p] = acc if cls == "double" else to_class(acc, cls)
    return out.reshape(h, w, 3)


def rgb2ycbcr(X):
    """MATLAB ``rgb2ycbcr(X)``: Y in [16, 235], Cb/Cr in [16, 240] (scaled by 1/255 for floating
    classes, by 257 for uint16); same class and shape as ``X``."""
    a, is_map = _as_image(X, "rgb2ycbcr")
    cls = matlab_class(a)
    t, offset = rgb2ycbcr_coefficients(cls)
    out = _lincomb(a, t, offset, cls, clip=False)
    return out.reshape(a.shape[0], 3) if is_map else out


def ycbcr2rgb(X):
    """MATLAB ``ycbcr2rgb(X)``: the inverse transform; floating results are clipped to [0, 1]."""
    a, is_map = _as_image(X, "ycbcr2rgb")
    cls = matlab_class(a)
    t, offset = ycbcr2rgb_coefficients(cls)
    out = _lincomb(a, t, tuple(-v for v in offset), cls, clip=cls in ("single", "double"))
    return out.reshape(a.shape[0], 3) if is_map else out
