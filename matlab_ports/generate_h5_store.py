"""The inputs of ``generate_h5`` and the temporary store that holds their frames.

Each input ``.mat`` (``video`` inputsz x inputsz x N, ``valence`` 1xN) is checked as the script
would use it (class converted to double on assignment, a scalar valence expanded) and its
frames are appended, in the file's h5 plane layout, to a binary file in the run's temporary
folder; the samples are later gathered by index in the shuffled order, so memory use does not
grow with the number of frames.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import PortError, PortFileError

# ---------------------------------------------------------------------------------------------
# Temporary frame stores


class _Store:
    """Fixed-shape planes appended to a binary file, read back by index (pread, no mmap, so
    the page cache is not counted in the process's memory)."""

    def __init__(self, path, plane_shape, dtype):
        self.path = path
        self.plane_shape = tuple(plane_shape)
        self.dtype = np.dtype(dtype)
        self.plane_bytes = int(np.prod(self.plane_shape)) * self.dtype.itemsize
        self.n = 0
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def append(self, planes):
        buf = np.ascontiguousarray(planes, dtype=self.dtype)
        view = memoryview(buf).cast("B")
        offset = self.n * self.plane_bytes
        while view:
            k = os.pwrite(self._fd, view, offset)
            view = view[k:]
            offset += k
        self.n += buf.shape[0]

    def read_run(self, start, count, out):
        """Planes ``start .. start+count-1`` into ``out`` (any float dtype, converted)."""
        if out.dtype == self.dtype and out.flags.c_contiguous:
            buf = out
        else:
            buf = np.empty((count,) + self.plane_shape, self.dtype)
        view = memoryview(buf).cast("B")
        offset = start * self.plane_bytes
        while view:
            k = os.preadv(self._fd, [view], offset)
            if k <= 0:
                raise PortError(f"{self.path}: temporary store truncated")
            view = view[k:]
            offset += k
        if buf is not out:
            out[...] = buf

    def close(self, remove=False):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if remove:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


class _Frames:
    """Planes of several stores addressed by one global index."""

    def __init__(self, stores):
        self.stores = stores
        self.offsets = np.cumsum([0] + [s.n for s in stores]).astype(np.int64)

    def gather(self, idx, out):
        """``out[i] = plane idx[i]`` (runs of consecutive indices read at once)."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return out
        f = np.searchsorted(self.offsets, idx, side="right") - 1
        local = idx - self.offsets[f]
        brk = np.flatnonzero((np.diff(local) != 1) | (np.diff(f) != 0)) + 1
        starts = np.concatenate(([0], brk)).tolist()
        ends = np.concatenate((brk, [idx.size])).tolist()
        for a, b in zip(starts, ends):
            self.stores[int(f[a])].read_run(int(local[a]), b - a, out[a:b])
        return out


# ---------------------------------------------------------------------------------------------
# Inputs


def _resolve_input(path, n):
    p = os.fspath(path)
    if os.path.isfile(p):
        return p
    # MATLAB's load looks for <name>.mat when the name has no extension
    if not os.path.splitext(p)[1] and os.path.isfile(p + ".mat"):
        return p + ".mat"
    raise PortFileError(f"{p}: input {n} not found (generate_h5.m loads 'video' and 'valence' "
                        f"from each input .mat)")


def _as_video(video, path, inputsz):
    if not isinstance(video, np.ndarray) or video.dtype.kind not in "biuf":
        raise PortFileError(f"{path}: 'video' must be a real numeric array, got "
                            f"{getattr(video, 'dtype', type(video).__name__)}")
    shape = video.shape
    if video.ndim > 3 and all(d == 1 for d in shape[3:]):
        video = video.reshape(shape[:3])
    if video.ndim == 2:
        video = video[:, :, None]
    if video.ndim != 3 or video.shape[:2] != (inputsz, inputsz):
        raise PortFileError(f"{path}: 'video' is {'x'.join(map(str, shape))}; expected "
                            f"{inputsz}x{inputsz}xN frames (inputsz = {inputsz})")
    return video


def _as_labels(valence, path, n):
    if not isinstance(valence, np.ndarray) or valence.dtype.kind not in "biuf":
        raise PortFileError(f"{path}: 'valence' must be a real numeric array")
    if valence.size == n:
        return valence.astype(np.float64).ravel(order="F")
    if valence.size == 1:
        return np.full(n, float(valence.reshape(())), np.float64)
    raise PortFileError(f"{path}: 'valence' has {valence.size} values for {n} frames "
                        f"(label(1, count+1:count+N) = valence needs N values or one)")


def _peek_frames(path, inputsz):
    """Frame count from the file's header (no data read), or None when it cannot tell."""
    from .matfile import mat_version

    try:
        version = mat_version(path)
        if version == "7.3":
            import h5py

            with h5py.File(path, "r") as f:
                if "video" not in f or not hasattr(f["video"], "shape"):
                    return None
                shape = tuple(reversed(f["video"].shape))
        else:
            import scipy.io

            info = {name: shp for name, shp, _ in scipy.io.whosmat(path)}
            if "video" not in info:
                return None
            shape = tuple(info["video"])
    except Exception:  # noqa: BLE001 - the full load reports the problem properly
        return None
    if len(shape) < 2 or shape[:2] != (inputsz, inputsz):
        return None
    return int(np.prod(shape[2:])) if len(shape) > 2 else 1


def _representable_f32(video, chunk=256):
    """True when every value of ``video`` (frames last) is exactly a single (checked ``chunk``
    frames at a time)."""
    if video.dtype == np.float32 or video.dtype.kind == "b" or video.dtype.itemsize <= 2:
        return True
    for a in range(0, video.shape[2], chunk):
        part = video[:, :, a:a + chunk]
        same = part.astype(np.float32) == part        # compared in double
        if not same.all() and not np.isnan(part[~same]).all():
            return False
    return True
