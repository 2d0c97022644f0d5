"""MATLAB ``load``/``save`` of MAT-files, keeping MATLAB orientation.

Arrays come and go with numpy shape == MATLAB size and MATLAB's class (a 96x96xN single array is
a (96, 96, N) float32 array on both sides). v4/v5/v6/v7 files are read and written by scipy.io;
v7.3 files are HDF5, read and written with h5py. HDF5 stores MATLAB's column-major arrays with
their dimensions reversed, so v7.3 data is transposed back on reading and on writing.

``savemat`` writes the header MATLAB writes (``MATLAB 5.0 MAT-file, Platform: GLNXA64, Created
on: ...``; for v7.3 the 512-byte user block with ``... HDF5 schema 1.00 .``, version 0x0200 and
``IM``) and the ``MATLAB_class`` attributes MATLAB reads. v7.3 support covers numeric, logical
and char arrays and (nested) structs given as dicts; cell arrays are read but not written, and
v7.3 data is stored uncompressed and unchunked (MATLAB compresses large variables; the values
are the same). Files are written atomically.
"""
import os
import sys
import time

import numpy as np

from .errors import PortError, PortFileError

__all__ = ["loadmat", "savemat", "mat_version"]

_V73_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CLASS_DTYPES = {
    "double": np.float64, "single": np.float32, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
    "int64": np.int64, "uint64": np.uint64, "logical": np.bool_, "char": np.uint16,
}
_DTYPE_CLASSES = {np.dtype(v): k for k, v in _CLASS_DTYPES.items() if k not in ("char",)}


def _platform():
    if sys.platform.startswith("win"):
        return "PCWIN64"
    if sys.platform == "darwin":
        return "MACI64"
    return "GLNXA64"


def _header_text(version):
    stamp = time.strftime("%a %b %d %H:%M:%S %Y")
    if version == "7.3":
        text = (f"MATLAB 7.3 MAT-file, Platform: {_platform()}, Created on: {stamp} "
                "HDF5 schema 1.00 .")
    else:
        text = f"MATLAB 5.0 MAT-file, Platform: {_platform()}, Created on: {stamp}"
    return text.encode("ascii").ljust(116, b" ")[:116]


def mat_version(path):
    """'4', '5' (v5/v6/v7) or '7.3' for the MAT-file at ``path``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PortFileError(f"{path}: MAT-file not found")
    with open(path, "rb") as f:
        head = f.read(128)
        f.seek(512)
        sig = f.read(8)
    if sig == _V73_SIGNATURE:
        return "7.3"
    if len(head) < 128:
        raise PortFileError(f"{path}: too short to be a MAT-file")
    if head[124:126] in (b"\x00\x01", b"\x01\x00") and head[126:128] in (b"IM", b"MI"):
        return "5"
    if head[:4] != b"\x00\x00\x00\x00" and head[:3] != b"MAT":
        return "4"
    raise PortFileError(f"{path}: not a MAT-file (unrecognised header)")


def loadmat(path):
    """MATLAB ``load(path)``: dict of variable name -> value in MATLAB orientation.

    v5/v7 values are scipy.io's (numeric arrays with MATLAB's shape and class, logical variables
    as bool, char arrays as ``str`` arrays, structs as record arrays); v7.3 values are numpy
    arrays (chars as ``str``, structs as dicts, cells as object arrays, sparse matrices as
    scipy.sparse CSC).
    """
    path = os.fspath(path)
    version = mat_version(path)
    if version == "7.3":
        return _load_v73(path)
    import scipy.io

    try:
        raw = scipy.io.loadmat(path, squeeze_me=False, chars_as_strings=True)
        classes = {name: cls for name, _, cls in scipy.io.whosmat(path)}
    except Exception as exc:  # noqa: BLE001 - scipy raises several types for bad files
        raise PortFileError(f"{path}: cannot read MAT-file ({exc})") from None
    out = {}
    for k, v in raw.items():
        if k.startswith("__"):
            continue
        if classes.get(k) == "logical" and isinstance(v, np.ndarray) and v.dtype.kind in "iu":
            v = v.astype(bool)
        out[k] = v
    return out


def _load_v73(path):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise PortFileError(f"{path}: not a readable v7.3 MAT-file ({exc})") from None
    with f:
        out = {}
        for name, obj in f.items():
            if name.startswith("#"):
                continue
            out[name] = _read_v73(f, obj, path)
        return out


def _attr_str(obj, key):
    v = obj.attrs.get(key)
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        v = v.tobytes()
    return v.decode("ascii") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _read_v73(f, obj, path):
    import h5py

    cls = _attr_str(obj, "MATLAB_class")
    if isinstance(obj, h5py.Group):
        if _attr_str(obj, "MATLAB_sparse") is not None or "jc" in obj:
            return _read_sparse(obj, cls)
        return {k: _read_v73(f, v, path) for k, v in obj.items()}
    raw = obj[()]
    if obj.attrs.get("MATLAB_empty", 0):
        dims = tuple(int(d) for d in np.ravel(raw)) if np.size(raw) else (0, 0)
        return np.zeros(dims, _CLASS_DTYPES.get(cls, np.float64))
    if cls == "cell":
        cells = np.empty(raw.shape, dtype=object)
        for idx, ref in np.ndenumerate(raw):
            cells[idx] = _read_v73(f, f[ref], path)
        return cells.T
    if raw.dtype.names and {"real", "imag"} <= set(raw.dtype.names):
        raw = raw["real"] + 1j * raw["imag"]
    arr = np.transpose(np.asarray(raw))
    if cls == "char":
        codes = arr.astype(np.uint16)
        if codes.ndim == 2:
            return np.array(["".join(map(chr, r)) for r in codes])
        return codes
    if cls == "logical":
        return arr.astype(bool)
    if cls in _CLASS_DTYPES and arr.dtype.kind != "c":
        return arr.astype(_CLASS_DTYPES[cls], copy=False)
    return arr


def _read_sparse(group, cls):
    import scipy.sparse

    m = int(group.attrs["MATLAB_sparse"])
    jc = group["jc"][()].astype(np.int64)
    ir = group["ir"][()].astype(np.int64) if "ir" in group else np.zeros(0, np.int64)
    data = group["data"][()] if "data" in group else np.zeros(0)
    if data.dtype.names and {"real", "imag"} <= set(data.dtype.names):
        data = data["real"] + 1j * data["imag"]
    if cls == "logical":
        data = data.astype(bool)
    return scipy.sparse.csc_matrix((data, ir, jc), shape=(m, jc.size - 1))


def savemat(path, variables, version="7", oned_as="row"):
    """MATLAB ``save(path, ..., '-v7')`` (default), ``'-v6'`` (``version="6"``, uncompressed) or
    ``'-v7.3'`` (HDF5). ``variables`` maps MATLAB names to arrays, kept in MATLAB orientation;
    1-D arrays become rows (``oned_as="row"``) or columns. Written atomically."""
    from caffe_compat.io.atomic import atomic_path

    path = os.fspath(path)
    if version not in ("5", "6", "7", "7.3"):
        raise PortError(f"version: expected '6', '7' or '7.3', got {version!r}")
    if oned_as not in ("row", "column"):
        raise PortError(f"oned_as: expected 'row' or 'column', got {oned_as!r}")
    if not isinstance(variables, dict):
        raise PortError(f"variables: expected a dict of name -> array, got "
                        f"{type(variables).__name__}")
    for name in variables:
        if not (isinstance(name, str) and name[:1].isalpha() and name.replace("_", "a").isalnum()
                and len(name) <= 63):
            raise PortError(f"variables: {name!r} is not a valid MATLAB variable name")
    with atomic_path(path, suffix=".mat") as tmp:
        if version == "7.3":
            _save_v73(tmp, variables, oned_as)
        else:
            import scipy.io

            try:
                scipy.io.savemat(tmp, variables, format="5", do_compression=version == "7",
                                 oned_as=oned_as, long_field_names=True)
            except Exception as exc:  # noqa: BLE001 - scipy rejects unsupported values variously
                raise PortError(f"{path}: cannot store these variables ({exc})") from None
            with open(tmp, "r+b") as f:
                f.write(_header_text("5"))


def _save_v73(tmp, variables, oned_as):
    import h5py

    with h5py.File(tmp, "w", userblock_size=512, libver="earliest") as f:
        for name, value in variables.items():
            _write_v73(f, name, value, oned_as)
    with open(tmp, "r+b") as fh:
        fh.write(_header_text("7.3") + b"\x00" * 8 + b"\x00\x02" + b"IM")


def _set_class(obj, cls):
    obj.attrs.create("MATLAB_class", np.bytes_(cls))


def _write_v73(parent, name, value, oned_as):
    if isinstance(value, dict):
        grp = parent.create_group(name)
        _set_class(grp, "struct")
        for key, sub in value.items():
            _write_v73(grp, key, sub, oned_as)
        return
    if isinstance(value, str):
        codes = np.array([ord(c) for c in value], dtype=np.uint16).reshape(1, -1)
        _write_array(parent, name, codes, "char", oned_as)
        return
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        if arr.ndim > 1 or arr.size != 1:
            raise PortError(f"{name}: only single strings are supported as char data")
        _write_v73(parent, name, str(arr.reshape(())), oned_as)
        return
    if arr.dtype == object:
        raise PortError(f"{name}: cell arrays cannot be written to v7.3 files here")
    if arr.dtype.kind == "c":
        cls = _DTYPE_CLASSES.get(np.dtype(arr.real.dtype))
    else:
        cls = _DTYPE_CLASSES.get(arr.dtype)
    if cls is None:
        raise PortError(f"{name}: dtype {arr.dtype} has no MATLAB class")
    _write_array(parent, name, arr, cls, oned_as)


def _write_array(parent, name, arr, cls, oned_as):
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1) if oned_as == "row" else arr.reshape(-1, 1)
    if arr.size == 0:
        ds = parent.create_dataset(name, data=np.array(arr.shape, dtype=np.uint64))
        _set_class(ds, cls)
        ds.attrs.create("MATLAB_empty", np.uint8(1))
        return
    data = np.ascontiguousarray(np.transpose(arr))
    if cls == "logical":
        data = data.astype(np.uint8)
    if data.dtype.kind == "c":
        comp = np.empty(data.shape, dtype=[("real", data.real.dtype), ("imag", data.real.dtype)])
        comp["real"] = data.real
        comp["imag"] = data.imag
        data = comp
    ds = parent.create_dataset(name, data=data)
    _set_class(ds, cls)
    if cls == "char":
        ds.attrs.create("MATLAB_int_decode", np.int32(2))
