"""HDF5 files as MATLAB's ``h5create``/``h5write`` (and SRCNN's ``store2hdf5``) write them.

MATLAB is column-major and HDF5 row-major, so MATLAB writes an array of size [W H C N] as an HDF5
dataset of shape (N, C, H, W) holding the same bytes: every index is reversed,

    h5[n, c, i, j] == data(j+1, i+1, c+1, n+1)      (MATLAB 1-based on the right)

i.e. ``h5 = numpy.transpose(data)``. ``store2hdf5`` creates ``/data`` and ``/label`` as single
(float32) datasets, unlimited in the last MATLAB dimension (the first HDF5 one), chunked
[dims(1:end-1) chunksz] (HDF5 chunks reversed: (chunksz, ...)), fill value 0, no filters, and
appends each batch by extending the dataset and writing the hyperslab after the samples stored.

Writers take arrays in MATLAB orientation (numpy shape == MATLAB size); readers return them so.
"""
import os

import numpy as np

from .errors import PortError, PortFileError

__all__ = ["MatlabH5Writer", "store2hdf5", "h5read", "h5size"]


def _h5py():
    import h5py

    return h5py


def _matlab_array(a, name):
    try:
        arr = np.asarray(a)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot take is bad input
        raise PortError(f"{name}: expected a numeric array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise PortError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    return arr


class MatlabH5Writer:
    """Stream MATLAB-orientation batches into an HDF5 file laid out as MATLAB writes it.

    ``datasets`` maps a dataset name to its per-sample MATLAB size, e.g.
    ``{"data": (W, H, C), "label": (D,)}``; each batch given to :meth:`append` has that size plus
    a trailing sample dimension (``[W H C k]``, ``[D k]``). Datasets are float32, unlimited along
    the samples, chunked ``chunksz`` samples, fill value 0, uncompressed. The file is written to
    a temporary name and renamed onto ``path`` by :meth:`close` (use as a context manager); on
    an exception nothing is left at ``path``.
    """

    def __init__(self, path, datasets, chunksz):
        if not datasets:
            raise PortError("datasets: give at least one dataset name and sample size")
        if isinstance(chunksz, bool) or not isinstance(chunksz, (int, np.integer)) or chunksz < 1:
            raise PortError(f"chunksz: expected a positive integer, got {chunksz!r}")
        self.path = os.fspath(path)
        self.chunksz = int(chunksz)
        self.sizes = {}
        for name, dims in datasets.items():
            dims = tuple(int(d) for d in (dims if np.ndim(dims) else (dims,)))
            if not dims or min(dims) < 1:
                raise PortError(f"datasets[{name!r}]: expected positive sample dimensions, "
                                f"got {datasets[name]!r}")
            self.sizes[name] = dims
        self._ctx = None
        self._file = None
        self.count = {name: 0 for name in self.sizes}

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort(exc_type, exc, tb)
        return False

    def open(self):
        """Create the temporary file and its datasets."""
        from caffe_compat.io.atomic import atomic_path

        h5py = _h5py()
        self._ctx = atomic_path(self.path, suffix=".h5")
        tmp = self._ctx.__enter__()
        try:
            self._file = h5py.File(tmp, "w")
            for name, dims in self.sizes.items():
                rev = tuple(reversed(dims))
                self._file.create_dataset(name, shape=(0,) + rev, maxshape=(None,) + rev,
                                          chunks=(self.chunksz,) + rev, dtype="<f4",
                                          fillvalue=np.float32(0))
        except BaseException as exc:
            self.abort(type(exc), exc, exc.__traceback__)
            raise
        return self

    def append(self, **batches):
        """Append one batch per dataset (MATLAB orientation, samples last), cast to single."""
        if self._file is None:
            raise PortError(f"{self.path}: writer is not open")
        for name, batch in batches.items():
            if name not in self.sizes:
                raise PortError(f"{name}: unknown dataset; expected one of {sorted(self.sizes)}")
            arr = _matlab_array(batch, name)
            dims = self.sizes[name]
            if arr.shape[:-1] != dims or arr.ndim != len(dims) + 1:
                raise PortError(f"{name}: expected a batch of size {list(dims) + ['k']}, "
                                f"got {list(arr.shape)}")
            ds = self._file[name]
            k = arr.shape[-1]
            n = self.count[name]
            ds.resize(n + k, axis=0)
            ds[n:n + k] = np.transpose(arr).astype(np.float32)
            self.count[name] = n + k

    def close(self):
        """Flush, close and move the file onto ``path``."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        ctx, self._ctx = self._ctx, None
        ctx.__exit__(None, None, None)

    def abort(self, exc_type=None, exc=None, tb=None):
        """Close and delete the temporary file; ``path`` is left as it was."""
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            err = exc if exc is not None else PortError("aborted")
            try:
                ctx.__exit__(type(err), err, tb)
            except BaseException as raised:  # noqa: BLE001 - atomic_path re-raises what it got
                if raised is not err:
                    raise


def _matlab_size(shape):
    """MATLAB's ``size``: at least two entries, trailing singleton dimensions dropped."""
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    while len(dims) < 2:
        dims.append(1)
    return dims


def store2hdf5(filename, data, labels, create=True, startloc=None, chunksz=1000):
    """SRCNN's ``store2hdf5``: write ``data`` [W H C N] and ``labels`` [D N] (MATLAB orientation)
    into ``/data`` and ``/label`` and return the datasets' MATLAB sizes after the write.

    ``create`` replaces any existing file (written atomically, datasets created as ``h5create``
    does with ``[dims Inf]`` and ``ChunkSize [dims chunksz]``); otherwise the file is appended to
    in place. ``startloc`` is ``{'dat': [1, .., K+1], 'lab': [1, .., K+1]}`` (1-based); by default
    writing starts after the samples already stored. Array sizes are numpy shapes: unlike
    MATLAB's ``size``, a trailing singleton sample dimension (a batch of one) is kept.
    """
    filename = os.fspath(filename)
    data = _matlab_array(data, "data")
    labels = _matlab_array(labels, "labels")
    if data.ndim < 1 or labels.ndim < 1:
        raise PortError("data, labels: expected arrays with a trailing sample dimension")
    num = data.shape[-1]
    if labels.shape[-1] != num:
        raise PortError(f"labels: {labels.shape[-1]} samples, data has {num}; the number of "
                        f"samples should match between data and labels")
    h5py = _h5py()
    if create:
        if isinstance(chunksz, bool) or not isinstance(chunksz, (int, np.integer)) or chunksz < 1:
            raise PortError(f"chunksz: expected a positive integer, got {chunksz!r}")
        with MatlabH5Writer(filename, {"data": data.shape[:-1], "label": labels.shape[:-1]},
                            chunksz) as w:
            if startloc is not None:
                _check_startloc(startloc, data, labels, 0, 0)
            if data.size:
                w.append(data=data, label=labels)
        return _sizes(filename)
    if not os.path.isfile(filename):
        raise PortFileError(f"{filename}: file to append to not found")
    try:
        f = h5py.File(filename, "r+")
    except OSError as exc:
        raise PortFileError(f"{filename}: not a writable HDF5 file ({exc})") from None
    with f:
        for name in ("data", "label"):
            if name not in f:
                raise PortFileError(f"{filename}: dataset /{name} missing")
        dprev = f["data"].shape
        lprev = f["label"].shape
        if tuple(reversed(dprev[1:])) != data.shape[:-1] or \
                tuple(reversed(lprev[1:])) != labels.shape[:-1]:
            raise PortError(f"{filename}: data dimensions must match existing dimensions in the "
                            f"dataset ({list(reversed(dprev))}, {list(reversed(lprev))})")
        if startloc is None:
            d0, l0 = dprev[0], lprev[0]
        else:
            d0, l0 = _check_startloc(startloc, data, labels, dprev[0], lprev[0])
        if data.size:
            for name, arr, start in (("data", data, d0), ("label", labels, l0)):
                ds = f[name]
                end = start + arr.shape[-1]
                if end > ds.shape[0]:
                    ds.resize(end, axis=0)
                ds[start:end] = np.transpose(arr).astype(np.float32)
    return _sizes(filename)


def _check_startloc(startloc, data, labels, dcount, lcount):
    try:
        dat = [int(v) for v in startloc["dat"]]
        lab = [int(v) for v in startloc["lab"]]
    except (KeyError, TypeError, ValueError):
        raise PortError(f"startloc: expected {{'dat': [...], 'lab': [...]}}, got {startloc!r}") \
            from None
    if len(dat) != data.ndim or len(lab) != labels.ndim:
        raise PortError(f"startloc: expected {data.ndim} and {labels.ndim} entries, got "
                        f"{len(dat)} and {len(lab)}")
    if any(v != 1 for v in dat[:-1] + lab[:-1]):
        raise PortError("startloc: only the sample (last) position may differ from 1")
    d0, l0 = dat[-1] - 1, lab[-1] - 1
    if d0 < 0 or l0 < 0 or d0 > dcount or l0 > lcount:
        raise PortError(f"startloc: sample positions {d0 + 1}, {l0 + 1} outside 1..{dcount + 1}, "
                        f"1..{lcount + 1}")
    return d0, l0


def _sizes(filename):
    return h5size(filename, "data"), h5size(filename, "label")


def h5size(filename, name):
    """MATLAB ``h5info(...).Dataspace.Size`` of dataset ``name`` (dimensions reversed)."""
    h5py = _h5py()
    filename = os.fspath(filename)
    try:
        with h5py.File(filename, "r") as f:
            return list(reversed(_dataset(f, name, filename).shape))
    except PortError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py reports damaged files with many types
        raise PortFileError(f"{filename}: not a readable HDF5 file ({exc})") from None


def _dataset(f, name, filename):
    """Dataset ``name`` of open file ``f`` with a shape; PortFileError naming the file if it is
    missing, a group, a dangling link or a dataset without a dataspace (HDF5 null)."""
    h5py = _h5py()
    try:
        obj = f[name] if name in f else None
    except (KeyError, ValueError, RuntimeError, OSError):   # dangling or external links
        obj = None
    if not isinstance(obj, h5py.Dataset):
        raise PortFileError(f"{filename}: dataset {name} missing")
    if obj.shape is None:
        raise PortFileError(f"{filename}: dataset {name} has a null dataspace (no data)")
    from caffe_compat.data.hdf5 import damaged_chunks   # libhdf5 crashes on these

    damage = damaged_chunks(obj)
    if damage:
        raise PortFileError(f"{filename}: dataset {name} is damaged: {damage}")
    return obj


def h5read(filename, name, start=None, count=None):
    """MATLAB ``h5read(filename, name[, start, count])``: the dataset in MATLAB orientation.

    ``start`` (1-based) and ``count`` are MATLAB-order vectors selecting a hyperslab.
    """
    h5py = _h5py()
    filename = os.fspath(filename)
    if not os.path.isfile(filename):
        raise PortFileError(f"{filename}: file not found")
    try:
        f = h5py.File(filename, "r")
    except Exception as exc:  # noqa: BLE001 - h5py reports damaged files with many types
        raise PortFileError(f"{filename}: not a readable HDF5 file ({exc})") from None
    try:
        with f:
            ds = _dataset(f, name, filename)
            if start is None and count is None:
                return np.asarray(np.transpose(ds[()]))   # an array for scalar datasets too
            rank = ds.ndim
            if start is None or count is None or len(start) != rank or len(count) != rank:
                raise PortError(f"{filename}: start, count: expected {rank} entries each "
                                "(MATLAB order)")
            sel = []
            for s, c, n in zip(reversed(start), reversed(count), ds.shape):
                s, c = int(s) - 1, int(c)
                if s < 0 or c < 0 or s + c > n:
                    raise PortError(f"{filename}: start, count: hyperslab {s + 1}..{s + c} "
                                    f"outside 1..{n}")
                sel.append(slice(s, s + c))
            return np.transpose(ds[tuple(sel)])
    except PortError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged data: h5py raises OSError, KeyError, ...
        raise PortFileError(f"{filename}: cannot read dataset {name} ({type(exc).__name__}: "
                            f"{exc})") from None
