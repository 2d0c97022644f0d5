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
    if len(head) == 128 and head[124:126] in (b"\x00\x01", b"\x01\x00") and \
            head[126:128] in (b"IM", b"MI"):
        return "5"
    # v4: each matrix starts with its type MOPT as an int32 in the writer's byte order (M: 0-4,
    # O: 0, P: 0-5, T: 0-2); a little-endian double matrix, the common case, starts with 0
    if len(head) >= 20 and any(_v4_type(int.from_bytes(head[:4], order))
                               for order in ("little", "big")):
        return "4"
    if len(head) < 128:
        raise PortFileError(f"{path}: too short to be a MAT-file")
    raise PortFileError(f"{path}: not a MAT-file (unrecognised header)")


def _v4_type(mopt):
    m, o, p, t = mopt // 1000, mopt // 100 % 10, mopt // 10 % 10, mopt % 10
    return 0 <= mopt < 5000 and o == 0 and p <= 5 and t <= 2


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

    if version == "5":
        _check_v5_elements(path)
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


# v5 data element types scipy can read where a numeric element belongs (array flags, dims,
# name, real / imaginary parts, sparse indices, field names). scipy's reader indexes a table
# with the type without a bounds check, and reads the parts of an array one after the other
# without looking at the array's size: another type in a numeric place, an array missing a
# part (a complex flag without an imaginary part) or a part running past its array crash the
# process (SIGSEGV, scipy 1.17). Such files are refused before scipy sees them.
_MI_NUMERIC = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18})
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _check_v5_elements(path):
    """PortFileError if a v5/v7 MAT-file is damaged in a way scipy's reader would crash on.

    Walks every element (decompressing miCOMPRESSED ones) and checks, for each miMATRIX, the
    types of its parts, that it has the parts its class and flags need, and that none runs
    past its end. Other damage is left to scipy's own checks.
    """
    import math
    import zlib

    with open(path, "rb") as f:
        data = f.read()
    order = "<" if data[126:128] == b"IM" else ">"

    def fail(at, what):
        return PortFileError(f"{path}: damaged MAT-file: {what} at byte {at}")

    def elements(buf, start, end, where, pad=True):
        # parts of an array are padded to 8 bytes; top-level elements follow each other as
        # their sizes say (scipy's next position, and compressed ones are not padded)
        pos = start
        while pos + 8 <= end:
            first, second = np.frombuffer(buf, dtype=order + "u4", count=2, offset=pos)
            first, second = int(first), int(second)
            if first >> 16:                      # small data element: type and size in 4 bytes
                mdtype, size, body, step = first & 0xFFFF, first >> 16, pos + 4, 8
                if size > 4:
                    raise fail(where + pos, f"small data element of {size} bytes")
            else:
                mdtype, size, body = first, second, pos + 8
                step = 8 + size + ((-size) % 8 if pad else 0)
            if body + size > end:
                raise fail(where + pos, f"data element of {size} bytes running past its end")
            yield mdtype, body, body + size, pos
            pos += step

    def ints(buf, body, stop, mdtype):
        width = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 12: 8, 13: 8}.get(mdtype)
        if width is None:
            return []
        code = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 12: "i8", 13: "u8"}
        n = (stop - body) // width
        return [int(v) for v in np.frombuffer(buf, dtype=order + code[mdtype], count=n,
                                              offset=body)]

    def check_matrix(buf, start, end, where, at, depth):
        if depth > 100:
            raise fail(where + at, "arrays nested over 100 deep")
        subs = list(elements(buf, start, end, where))
        if not subs:
            return                               # an empty array
        for k, (mdtype, body, stop, pos) in enumerate(subs[:3]):
            if mdtype not in _MI_NUMERIC:
                raise fail(where + pos, f"data element of type {mdtype} where a numeric "
                                        "element belongs")
        if len(subs) < 3:
            raise fail(where + at, "array without dimensions or name")
        # MATLAB's layout: flags miUINT32 (8 bytes), dimensions miINT32 (two or more)
        if subs[0][0] != 6 or subs[0][2] - subs[0][1] != 8:
            raise fail(where + subs[0][3], "array flags are not 8 bytes of miUINT32")
        size = subs[1][2] - subs[1][1]
        if subs[1][0] != 5 or size < 8 or size % 4:
            raise fail(where + subs[1][3], "array dimensions are not two or more miINT32")
        flags = ints(buf, subs[0][1], subs[0][2], subs[0][0])
        dims = ints(buf, subs[1][1], subs[1][2], subs[1][0])
        if not flags:
            raise fail(where + at, "array flags of the wrong type")
        klass, complex_ = flags[0] & 0xFF, bool(flags[0] & 0x800)
        count = math.prod(max(d, 0) for d in dims) if dims else 0
        if klass in (1, 2, 3):                   # cell, struct, object: parts then arrays
            head = {1: 3, 2: 5, 3: 6}[klass]
            nfields = 1
            if klass != 1:
                if len(subs) < head:
                    raise fail(where + at, "struct without field names")
                for mdtype, body, stop, pos in subs[3:head]:
                    if mdtype not in _MI_NUMERIC:
                        raise fail(where + pos, f"data element of type {mdtype} where a "
                                                "numeric element belongs")
                length = ints(buf, subs[head - 2][1], subs[head - 2][2], subs[head - 2][0])
                names = subs[head - 1][2] - subs[head - 1][1]
                nfields = names // length[0] if length and length[0] > 0 else 0
            if len(subs) < head + count * nfields:
                raise fail(where + at, f"array of {count * nfields} elements holding only "
                                       f"{len(subs) - head}")
            for mdtype, body, stop, pos in subs[head:]:
                if mdtype != _MI_MATRIX:
                    raise fail(where + pos, f"data element of type {mdtype} where an array "
                                            "belongs")
                check_matrix(buf, body, stop, where, pos, depth + 1)
        elif klass in (16, 17):                  # function handles, opaque objects
            for mdtype, body, stop, pos in subs[3:]:
                if mdtype == _MI_MATRIX:
                    check_matrix(buf, body, stop, where, pos, depth + 1)
                elif mdtype not in _MI_NUMERIC:
                    raise fail(where + pos, f"data element of type {mdtype} where a numeric "
                                            "element belongs")
        else:                                    # numeric, char, sparse: numeric parts
            need = (6 if klass == 5 else 4) + complex_
            if len(subs) < need:
                raise fail(where + at, f"array with {len(subs)} parts where its class "
                                       f"{klass}{' (complex)' if complex_ else ''} needs {need}")
            for mdtype, body, stop, pos in subs[3:]:
                if mdtype not in _MI_NUMERIC:
                    raise fail(where + pos, f"data element of type {mdtype} where a numeric "
                                            "element belongs")

    def check_top(buf, start, end, where):
        for mdtype, body, stop, at in elements(buf, start, end, where, pad=False):
            if mdtype == _MI_MATRIX:
                check_matrix(buf, body, stop, where, at, 0)
            elif mdtype == _MI_COMPRESSED:
                try:
                    inner = zlib.decompressobj().decompress(buf[body:stop])
                except zlib.error:
                    continue                       # scipy reports bad compressed data itself
                check_top(inner, 0, len(inner), where + at)

    check_top(data, 128, len(data), 0)


def _load_v73(path):
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - h5py reports damaged files with many types
        raise PortFileError(f"{path}: not a readable v7.3 MAT-file ({exc})") from None
    name = None
    try:
        with f:
            out = {}
            for name, obj in f.items():
                if name.startswith("#"):
                    continue
                out[name] = _read_v73(f, obj, path)
            return out
    except PortError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged data or attributes: many types
        where = f"variable {name!r}" if name is not None else "file"
        raise PortFileError(f"{path}: {where} cannot be read ({type(exc).__name__}: {exc})") \
            from None


def _attr_str(obj, key):
    v = obj.attrs.get(key)
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        v = v.tobytes()
    return v.decode("ascii") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _read_v73(f, obj, path, depth=0):
    import h5py

    if depth > 64:   # cells referring to themselves, absurd nesting
        raise PortFileError(f"{path}: {obj.name}: cells or structs nested over 64 deep")
    cls = _attr_str(obj, "MATLAB_class")
    if isinstance(obj, h5py.Group):
        if _attr_str(obj, "MATLAB_sparse") is not None or "jc" in obj:
            return _read_sparse(obj, cls)
        return {k: _read_v73(f, v, path, depth + 1) for k, v in obj.items()}
    from caffe_compat.data.hdf5 import damaged_chunks   # libhdf5 crashes on these

    damage = damaged_chunks(obj)
    if damage:
        raise PortFileError(f"{path}: {obj.name} is damaged: {damage}")
    raw = obj[()]
    if obj.attrs.get("MATLAB_empty", 0):
        dims = tuple(int(d) for d in np.ravel(raw)) if np.size(raw) else (0, 0)
        if 0 not in dims:   # an empty array has a zero dimension; do not allocate the claim
            raise PortFileError(f"{path}: {obj.name}: marked empty but its dimensions are "
                                f"{list(dims)}")
        return np.zeros(dims, _CLASS_DTYPES.get(cls, np.float64))
    if cls == "cell":
        cells = np.empty(raw.shape, dtype=object)
        for idx, ref in np.ndenumerate(raw):
            cells[idx] = _read_v73(f, f[ref], path, depth + 1)
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
