"""MATLAB numeric and image helpers with MATLAB's exact conversion rules.

Arrays are numpy arrays in MATLAB orientation (rows x cols x channels). MATLAB classes map to
dtypes: double = float64, single = float32, logical = bool, uint8/uint16/uint32/int8/int16/int32
= the numpy integer types of the same name.
"""
import math
import os

import numpy as np

from .errors import PortError, PortFileError

_CLASS_OF_DTYPE = {
    np.dtype(np.float64): "double", np.dtype(np.float32): "single", np.dtype(np.bool_): "logical",
    np.dtype(np.uint8): "uint8", np.dtype(np.uint16): "uint16", np.dtype(np.uint32): "uint32",
    np.dtype(np.int8): "int8", np.dtype(np.int16): "int16", np.dtype(np.int32): "int32",
}
_DTYPE_OF_CLASS = {name: dt for dt, name in _CLASS_OF_DTYPE.items()}


def matlab_class(a, name="A"):
    """MATLAB class name (``'double'``, ``'uint8'``, ...) of ``a``; PortError if it has none."""
    dt = np.asarray(a).dtype
    try:
        return _CLASS_OF_DTYPE[dt]
    except KeyError:
        raise PortError(f"{name}: dtype {dt} has no MATLAB class; expected one of "
                        f"{sorted(_DTYPE_OF_CLASS)}") from None


def as_array(a, name="A", classes=None, min_ndim=0):
    """``a`` as an ndarray of a MATLAB class (optionally restricted to ``classes``), non-empty."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except Exception as exc:  # noqa: BLE001 - anything numpy cannot take is bad input
            raise PortError(f"{name}: expected an array, got {type(a).__name__} ({exc})") from None
    cls = matlab_class(a, name)
    if classes is not None and cls not in classes:
        raise PortError(f"{name}: class {cls} (dtype {a.dtype}) not supported; expected one of "
                        f"{', '.join(classes)}")
    if a.ndim < min_ndim:
        raise PortError(f"{name}: expected at least {min_ndim} dimensions, got shape {a.shape}")
    if a.size == 0:
        raise PortError(f"{name}: expected a non-empty array, got shape {a.shape}")
    return a


def mround(x):
    """MATLAB ``round``: nearest integer, halves away from zero (numpy's ``round`` goes to even).

    Exact for every float: ``x - trunc(x)`` is computed without rounding error, so values such as
    0.49999999999999994 round to 0 (``floor(x + 0.5)`` would give 1). Integer arrays are returned
    unchanged; the dtype is kept.
    """
    a = np.asarray(x)
    if a.dtype.kind in "biu":
        return a.copy()
    if a.dtype.kind != "f":
        raise PortError(f"round: expected a real numeric array, got dtype {a.dtype}")
    t = np.trunc(a)
    with np.errstate(invalid="ignore"):
        up = np.abs(a - t) >= 0.5
    return np.where(up, t + np.copysign(np.ones((), a.dtype), a), t)


def _round_into(a, dtype):
    """float array -> integer ``dtype``: clip to the range, round half away from zero, NaN -> 0."""
    info = np.iinfo(dtype)
    buf = np.clip(a, info.min, info.max).astype(np.float64, copy=False)
    t = np.trunc(buf)
    np.subtract(buf, t, out=buf)
    if info.min < 0:
        up = np.abs(buf) >= 0.5
        np.add(t, np.copysign(up, buf), out=t)
    else:
        np.add(t, buf >= 0.5, out=t)
    nan = np.isnan(t)
    if nan.any():
        t[nan] = 0.0
    return t.astype(dtype)


def to_class(x, cls):
    """MATLAB conversion ``cls(x)`` (e.g. ``uint8(x)``) of a numeric array.

    Integer classes: round half away from zero, saturate to the class range, NaN -> 0.
    ``single``/``double``: IEEE round to nearest even. ``logical``: ``x ~= 0`` (NaN is an error).
    """
    a = np.asarray(x)
    if cls not in _DTYPE_OF_CLASS:
        raise PortError(f"cls: unknown MATLAB class {cls!r}; expected one of "
                        f"{sorted(_DTYPE_OF_CLASS)}")
    dt = _DTYPE_OF_CLASS[cls]
    if a.dtype == dt:
        return a.copy()
    if cls == "logical":
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise PortError("logical: NaN cannot be converted to logical")
        return a != 0
    if dt.kind == "f":
        return a.astype(dt)
    if a.dtype.kind in "biu":
        info = np.iinfo(dt)
        return np.clip(a.astype(np.int64), info.min, info.max).astype(dt)
    if a.dtype.kind != "f":
        raise PortError(f"{cls}: cannot convert dtype {a.dtype}")
    return _round_into(a, dt)


def im2double(img):
    """MATLAB ``im2double``: uint8 /255, uint16 /65535, int16 (x+32768)/65535, all in double;
    logical and single are converted, double is returned as is."""
    a = as_array(img, "img", ("double", "single", "logical", "uint8", "uint16", "int16"))
    if a.dtype == np.float64:
        return a
    if a.dtype.kind in "fb":
        return a.astype(np.float64)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    return (a.astype(np.float64) + 32768.0) / 65535.0


def im2single(img):
    """MATLAB ``im2single``: ``single(x)/255`` (uint8), ``single(x)/65535`` (uint16),
    ``(single(x)+32768)/65535`` (int16), evaluated in single precision; double is rounded to
    single, logical converted, single returned as is."""
    a = as_array(img, "img", ("double", "single", "logical", "uint8", "uint16", "int16"))
    if a.dtype == np.float32:
        return a
    if a.dtype.kind in "fb":
        return a.astype(np.float32)
    f = a.astype(np.float32)
    if a.dtype == np.uint8:
        return f / np.float32(255.0)
    if a.dtype == np.uint16:
        return f / np.float32(65535.0)
    return (f + np.float32(32768.0)) / np.float32(65535.0)


def im2uint8(img):
    """MATLAB ``im2uint8``.

    double/single: NaN -> 0, then ``x*255 + 0.5`` clamped to [0, 255] and truncated (the rule of
    MATLAB's grayto8 converter; single data is widened to double first, where the product is
    exact). uint16: ``round(x/257)``; int16: via uint16 (x + 32768); logical: 0/255.
    """
    a = as_array(img, "img", ("double", "single", "logical", "uint8", "uint16", "int16"))
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype == np.int16:
        a = (a.astype(np.int32) + 32768).astype(np.uint16)
    if a.dtype == np.uint16:
        return to_class(a.astype(np.float64) / 257.0, "uint8")
    v = a.astype(np.float64) * 255.0 + 0.5
    v[np.isnan(v)] = 0.0
    np.clip(v, 0.0, 255.0, out=v)
    return v.astype(np.uint8)


def modcrop(img, modulo):
    """SRCNN's ``modcrop``: crop rows and columns to multiples of ``modulo`` (top-left kept)."""
    a = as_array(img, "img", min_ndim=2)
    if isinstance(modulo, bool) or not isinstance(modulo, (int, np.integer)) or modulo < 1:
        raise PortError(f"modulo: expected a positive integer, got {modulo!r}")
    h = a.shape[0] - a.shape[0] % modulo
    w = a.shape[1] - a.shape[1] % modulo
    return a[:h, :w, ...]


def shave(img, border):
    """Remove ``border`` pixels at each side of the first two dimensions."""
    a = np.asarray(img)
    if border < 0 or 2 * border >= min(a.shape[:2]):
        raise PortError(f"border: {border} does not fit an image of shape {a.shape}")
    if border == 0:
        return a
    return a[border:-border, border:-border, ...]


def psnr(a, b, peak=255.0, border=0):
    """PSNR in dB as the SR evaluation scripts compute it: ``20*log10(peak/rmse)`` with
    ``rmse = sqrt(mean((double(a) - double(b)).^2))`` after shaving ``border`` pixels."""
    x = np.asarray(a)
    y = np.asarray(b)
    if x.shape != y.shape:
        raise PortError(f"psnr: images differ in shape, {x.shape} vs {y.shape}")
    d = shave(x, border).astype(np.float64) - shave(y, border).astype(np.float64)
    rmse = math.sqrt(float(np.mean(d * d)))
    if rmse == 0.0:
        return math.inf
    return 20.0 * math.log10(peak / rmse)


def _reduce_dim(a, dim):
    if dim is None:
        for k, n in enumerate(a.shape):
            if n != 1:
                return k
        return 0
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise PortError(f"dim: expected a positive integer (1-based, as in MATLAB), got {dim!r}")
    return int(dim) - 1


def _stat_input(x, fname, allow_int):
    a = np.asarray(x)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    kinds = "fiub" if allow_int else "f"
    if a.dtype.kind not in kinds:
        raise PortError(f"{fname}: expected {'a numeric' if allow_int else 'a single or double'} "
                        f"array, got dtype {a.dtype}")
    return a


def mean(x, dim=None):
    """MATLAB ``mean(x)`` / ``mean(x, dim)``: ``dim`` is 1-based; by default the first
    non-singleton dimension. The reduced dimension is kept with size 1 (1-D input gives a scalar).
    Integer and logical input give double, single stays single (summed in double here)."""
    a = _stat_input(x, "mean", True)
    ax = _reduce_dim(a, dim)
    out_dt = np.float32 if a.dtype == np.float32 else np.float64
    if ax >= a.ndim:
        return a.astype(out_dt)
    r = np.sum(a, axis=ax, dtype=np.float64, keepdims=a.ndim > 1) / a.shape[ax]
    return np.asarray(r).astype(out_dt)


def var(x, w=0, dim=None):
    """MATLAB ``var(x, w, dim)``: normalised by N-1 for ``w=0`` (default; N for a single sample)
    and by N for ``w=1``. ``dim`` as in :func:`mean`. Single and double input only, as MATLAB."""
    a = _stat_input(x, "var", False)
    if w not in (0, 1):
        raise PortError(f"var: w must be 0 or 1 (weight vectors are not supported), got {w!r}")
    ax = _reduce_dim(a, dim)
    out_dt = a.dtype
    if ax >= a.ndim:
        return np.zeros_like(a)
    n = a.shape[ax]
    a64 = a.astype(np.float64)
    mu = np.sum(a64, axis=ax, keepdims=True) / n
    d = a64 - mu
    denom = n if (w == 1 or n == 1) else n - 1
    r = np.sum(d * d, axis=ax, keepdims=a.ndim > 1) / denom
    return np.asarray(r).astype(out_dt)


def std(x, w=0, dim=None):
    """MATLAB ``std(x, w, dim)``: square root of :func:`var` with the same normalisation."""
    v = var(x, w, dim)
    return np.sqrt(v)


# ---------------------------------------------------------------------------------------------
# Image files


def _png_bit_depth(path):
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 26:
        return None
    return head[24]


def imread(path):
    """MATLAB ``I = imread(path)`` (one output) for BMP, PNG, JPEG and TIFF files.

    Returns uint8 (or uint16 for 16-bit files) arrays: HxWx3 for colour, HxW for grey, the raw
    index array for palette images (as MATLAB's one-output form; the colormap is not applied),
    logical for 1-bit images. An alpha channel is dropped (MATLAB returns it separately).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PortFileError(f"{path}: image file not found")
    from PIL import Image  # local import: only the file helpers need Pillow

    if path.lower().endswith(".png") and _png_bit_depth(path) == 16:
        import cv2

        a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if a is None:
            raise PortFileError(f"{path}: not a readable PNG file")
        if a.ndim == 3:
            a = a[:, :, 2::-1] if a.shape[2] >= 3 else a[:, :, 0]
        return np.ascontiguousarray(a)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("RGBA", "RGBX", "RGB", "CMYK", "YCbCr", "LAB", "HSV"):
                a = np.asarray(im.convert("RGB") if mode != "RGB" else im)
            elif mode == "LA":
                a = np.asarray(im)[:, :, 0]
            elif mode in ("L", "P"):
                a = np.asarray(im)
            elif mode == "1":
                a = np.asarray(im).astype(bool)
            elif mode.startswith("I;16"):
                a = np.asarray(im).astype(np.uint16)
            else:
                raise PortFileError(f"{path}: image mode {mode!r} is not supported")
    except PortFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
        raise PortFileError(f"{path}: not a readable image ({exc})") from None
    return np.array(a)


def _float_to_uint8_for_file(a):
    """imwrite's rule for floating data: clamp to [0, 1], then ``uint8(255*x)`` (round half away
    from zero), the product taken in the array's own precision."""
    a = np.where(np.isnan(a), a.dtype.type(0), a)
    c = np.minimum(np.maximum(a, a.dtype.type(0)), a.dtype.type(1))
    return to_class(c * a.dtype.type(255), "uint8")


def imwrite(img, path):
    """MATLAB ``imwrite(img, path)`` for PNG and BMP (format from the extension), atomically.

    double/single data: clamped to [0, 1] and written as ``uint8(255*x)`` (round half away from
    zero); uint8 as is; uint16 as 16-bit PNG; logical as a 1-bit image. HxW or HxWx3 only.
    """
    from caffe_compat.io.atomic import atomic_path

    path = os.fspath(path)
    a = as_array(img, "img", ("double", "single", "logical", "uint8", "uint16"), min_ndim=2)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3))):
        raise PortError(f"img: expected HxW or HxWx3 data for {path}, got shape {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".bmp"):
        raise PortError(f"{path}: unsupported image extension {ext!r}; expected .png or .bmp")
    if a.dtype.kind == "f":
        a = _float_to_uint8_for_file(a)
    if a.dtype == np.uint16 and ext != ".png":
        raise PortError(f"{path}: 16-bit data can only be written as PNG")
    with atomic_path(path, suffix=ext) as tmp:
        if a.dtype == np.uint16 and a.ndim == 3:
            import cv2

            if not cv2.imwrite(tmp, np.ascontiguousarray(a[:, :, ::-1])):
                raise PortFileError(f"{path}: could not write the image")
        else:
            from PIL import Image

            if a.dtype == np.bool_:
                im = Image.fromarray(a.astype(np.uint8) * 255).convert("1")
            elif a.dtype == np.uint16:
                im = Image.fromarray(a)
            else:
                im = Image.fromarray(np.ascontiguousarray(a))
            im.save(tmp, format="PNG" if ext == ".png" else "BMP")
