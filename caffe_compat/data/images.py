"""Caffe's image and Datum conversions (src/caffe/util/io.cpp), through OpenCV as Caffe does.

- :func:`read_image` is ``ReadImageToCVMat``: ``cv::imread`` with IMREAD_COLOR (``is_color``)
  or IMREAD_GRAYSCALE, then ``cv::resize`` to ``width x height`` with OpenCV's default
  INTER_LINEAR when both are positive. Images stay OpenCV's H x W x C (BGR) uint8.
- :func:`decode_datum` is ``DecodeDatumToCVMat`` (``cv::imdecode`` with IMREAD_COLOR or
  IMREAD_GRAYSCALE: force_color / force_gray) or ``DecodeDatumToCVMatNative``
  (IMREAD_UNCHANGED: the file's own channels).
- :func:`mat_to_chw` is the channel loop of ``CVMatToDatum``: H x W x C -> C x H x W.
- :func:`image_to_datum` is ``ReadImageToDatum`` (convert_imageset's conversion), which keeps
  the file's own bytes when encoding to the file's own format without resizing.
- :func:`datum_array` gives a Datum's pixels as C x H x W (uint8 ``data`` or float
  ``float_data``), decoding encoded Datums."""
from __future__ import annotations

import os

import numpy as np

from ..errors import DataError
from ..proto import caffe_pb2

# cv::ImreadModes, the same values in OpenCV 2 to 5 (importing this module reads nothing of cv2)
IMREAD_COLOR = 1
IMREAD_GRAYSCALE = 0
IMREAD_UNCHANGED = -1


def caffes_format(head):
    """Whether Caffe's OpenCV (4.6 and before) decoded an image beginning with ``head``: not
    a GIF, AVIF or JPEG XL, which OpenCV 5 reads and Caffe could not open."""
    return not (head[:6] in (b"GIF87a", b"GIF89a") or head[4:12] in (b"ftypavif", b"ftypavis")
                or head[:2] == b"\xff\x0a" or head[4:8] == b"JXL ")


def imread(path, flag):
    """``cv::imread(path, flag)``, or None (a format :func:`caffes_format` refuses too). A
    path holding bytes that are not UTF-8 (a list or window file's line, read with
    ``surrogateescape``) is read here and decoded with ``cv2.imdecode``, the same decoders:
    OpenCV's Python binding (4.x and 5.x) crashes the process on such a ``str``, where Caffe's
    C++ opened the bytes as given."""
    import cv2    # on first use: importing OpenCV costs ~0.1 s (nets without image layers)
    try:   # the name ends at a NUL byte, as the C string OpenCV is given
        with open(path.split("\0", 1)[0], "rb") as f:
            data = f.read(12)
            if not caffes_format(data):
                return None
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                data += f.read()
                return cv2.imdecode(np.frombuffer(data, np.uint8), flag) if data else None
    except (OSError, ValueError):
        return None
    return cv2.imread(path, flag)


def read_image(path, height=0, width=0, is_color=True):
    """ReadImageToCVMat: the image at ``path`` (H x W x C uint8, C = 3 or 1), or None when
    OpenCV cannot read it (Caffe logs "Could not open or find file" and goes on)."""
    flag = IMREAD_COLOR if is_color else IMREAD_GRAYSCALE
    path = os.fspath(path)
    if not os.path.isfile(path):
        return None
    img = imread(path, flag)
    if img is None:
        return None
    if height > 0 and width > 0:
        import cv2
        img = cv2.resize(img, (int(width), int(height)))  # default: INTER_LINEAR, as Caffe's
    return img if img.ndim == 3 else img[:, :, None]


def decode_image(data, flag):
    """``cv::imdecode(data, flag)`` as H x W x C, or None when OpenCV cannot decode it."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0 or not caffes_format(data[:12]):
        return None
    import cv2
    img = cv2.imdecode(buf, flag)
    if img is None and data[:2] == b"\xff\xd8":
        # a truncated JPEG: Caffe's OpenCV (before 4.7) decoded it, as OpenCV's file reader
        # still does (libjpeg's "Premature end of JPEG file"; convert_imageset stores such)
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "image.jpg"), "wb") as f:
                f.write(buf)
            img = cv2.imread(os.path.join(folder, "image.jpg"), flag)
    return None if img is None else img if img.ndim == 3 else img[:, :, None]


def mat_to_chw(img):
    """CVMatToDatum's pixel order: OpenCV's H x W x C (interleaved BGR) -> C x H x W."""
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def decode_datum(datum, force_color=False, force_gray=False, where=""):
    """The image of an encoded Datum as H x W x C uint8 (Caffe's DataTransformer rule: decode
    in colour with force_color, grey with force_gray, else with the file's own channels)."""
    if force_color and force_gray:
        raise DataError(f"{where}: cannot set both force_color and force_gray")
    img = decode_image(datum.data, IMREAD_COLOR if force_color else
                       IMREAD_GRAYSCALE if force_gray else IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f"{where}: the encoded image ({len(datum.data)} bytes) cannot be "
                        "decoded by OpenCV (a corrupt or truncated image)")
    if img.dtype != np.uint8:
        raise DataError(f"{where}: the encoded image decodes to {img.dtype} pixels; Caffe's "
                        "DataTransformer takes 8-bit images only")
    return img


def parse_datum(value, where=""):
    """A ``Datum`` from the bytes of a database record; DataError naming ``where`` if they are
    not one."""
    datum = caffe_pb2.Datum()
    try:
        datum.ParseFromString(bytes(value))
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise DataError(f"{where}: the record is not a Caffe Datum ({type(e).__name__}: "
                        f"{e})") from None
    return datum


def datum_array(datum, force_color=False, force_gray=False, where=""):
    """A Datum's pixels as a C x H x W array: uint8 from ``data`` (decoded when ``encoded``),
    else float32 from ``float_data``; checked against channels x height x width."""
    if datum.encoded:
        return mat_to_chw(decode_datum(datum, force_color, force_gray, where))
    c, h, w = datum.channels, datum.height, datum.width
    if c <= 0 or h <= 0 or w <= 0:
        raise DataError(f"{where}: the Datum has shape {c} x {h} x {w} (channels x height x "
                        "width must be positive)")
    n = c * h * w
    if len(datum.data):
        if len(datum.data) != n:
            raise DataError(f"{where}: the Datum holds {len(datum.data)} bytes of data for "
                            f"shape {c} x {h} x {w}, which needs {n} (a corrupt record?)")
        return np.frombuffer(datum.data, dtype=np.uint8).reshape(c, h, w)
    if len(datum.float_data) != n:
        raise DataError(f"{where}: the Datum holds {len(datum.float_data)} float_data values "
                        f"and no data bytes for shape {c} x {h} x {w}, which needs {n}")
    return np.asarray(datum.float_data, dtype=np.float32).reshape(c, h, w)


# ---------------------------------------------------------------------------- convert_imageset
def _match_ext(filename, encoding):
    """io.cpp's matchExt: the file's extension equals ``encoding`` (case-insensitive; "jpeg"
    counts as "jpg")."""
    p = filename.rfind(".")
    ext = filename[p + 1:] if p >= 0 else filename
    ext, enc = ext.lower(), encoding.lower()
    return ext == enc or (enc == "jpg" and ext == "jpeg")


def raw_datum(chw, label):
    """The Datum CVMatToDatum + set_label write for C x H x W uint8 pixels (fields set in
    Caffe's way, so the serialised bytes are Caffe's)."""
    d = caffe_pb2.Datum()
    d.channels, d.height, d.width = (int(s) for s in chw.shape)
    d.data = np.ascontiguousarray(chw, dtype=np.uint8).tobytes()
    d.encoded = False
    d.label = int(label)
    return d


def encoded_datum(data, label):
    """The Datum ReadFileToDatum / the imencode branch write: data, label, encoded=true."""
    d = caffe_pb2.Datum()
    d.data = bytes(data)
    d.label = int(label)
    d.encoded = True
    return d


def image_to_datum(path, label, height=0, width=0, is_color=True, encoding=""):
    """ReadImageToDatum: the Datum convert_imageset stores for one image, or None when the
    image cannot be read (Caffe skips it)."""
    img = read_image(path, height, width, is_color)
    if img is None:
        return None
    if encoding:
        if (img.shape[2] == 3) == bool(is_color) and not height and not width \
                and _match_ext(os.fspath(path), encoding):
            try:
                with open(path, "rb") as f:
                    return encoded_datum(f.read(), label)
            except OSError:
                return None
        import cv2
        ok, buf = cv2.imencode("." + encoding, img)
        if not ok:
            raise DataError(f"{path}: OpenCV cannot encode the image as '{encoding}'")
        return encoded_datum(buf.tobytes(), label)
    return raw_datum(mat_to_chw(img), label)


def parse_list_line(line):
    """A line of an image list (convert_imageset, ImageData): the label is the integer after
    the LAST space (C's atoi: leading blanks, a sign, digits; 0 if none), the path all before
    it. A line without a space is its own path, with label ``atoi(line)``."""
    pos = line.rfind(" ")
    return (line[:pos] if pos >= 0 else line), atoi(line[pos + 1:])


def atoi(text):
    """C's ``atoi`` (glibc: strtol clamped to int)."""
    s = text.lstrip(" \t\n\v\f\r")
    i, sign = 0, 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        i = 1
    j = i
    while j < len(s) and s[j] in "0123456789":
        j += 1
    if j == i:
        return 0
    value = sign * int(s[i:j])
    # strtol saturates at LONG_MIN/MAX; the cast to int keeps the low 32 bits
    value = max(-(1 << 63), min((1 << 63) - 1, value))
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def read_list_file(path, where=""):
    """The (path, label) lines of an image list file, read as std::getline does ('\\n' ends a
    line; a final line without '\\n' counts; '\\r' stays part of the line)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{where or path}: image list file '{path}' does not exist") from None
    except OSError as e:
        raise DataError(f"{where or path}: cannot read image list file '{path}': "
                        f"{e.strerror or e}") from None
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [parse_list_line(line) for line in lines]
