"""``generate_h5.m`` and ``writeh5file.m`` (matlabscripts/generate_h5), streamed from disk.

The script loads the ``video`` (96x96xN) and ``valence`` (1xN) of every input ``.mat`` into one
double array ``data``, optionally degrades every frame (``mix``), shuffles the samples with
``randperm``, optionally mirrors, centres and scales them, and writes them with SRCNN's
``store2hdf5`` in chunks of ``chunksz`` samples: ``/data`` [96 96 C N] and ``/label`` [1 N],
single, as ``h5[n, c, i, j] == data(j+1, i+1, c+1, n+1)`` (see :mod:`matlab_ports.hdf5`).

This port writes the same files, element for element, for the same inputs and random stream,
without holding the data: each ``.mat`` is read once into a temporary binary store (in a
folder beside the output, removed afterwards), samples are gathered by index in the shuffled
order, and the per-element steps (mirror, mean subtraction, scaling) are applied while writing.
Mixed frames are computed once, in the script's frame order, into the store. The global mean
and standard deviation come from passes over the store before writing. Memory use is one
input file plus a few fixed-size buffers, whatever the number of frames.

What the script does, step by step, and ported as it is (quirks included):

* ``data`` is double: frames of class single (or integer, logical) are converted on assignment.
* mode ``'single'``: sample ``n`` is frame ``n`` of the concatenated videos, label its valence.
* mode ``'multi'``: sample ``count+j`` of a video of N frames is the stack of its frames
  ``j, j+1, j+2`` (``j = 1..N-2``), labelled with the valence of frame ``j``; ``count`` advances
  by N, so the last two samples of every video are all-zero stacks (still labelled with the
  valences of its last two frames). Videos of fewer than 3 frames give only zero samples.
* ``multi`` cannot finish in MATLAB: the stack array only grows to ``count-2`` samples (the
  last video's two zero slots are never assigned), and ``data(:, :, :, order)`` with
  ``order = randperm(count)`` stops with "Index exceeds matrix dimensions". By default this
  port raises :class:`PortError` at that point too; ``multi_tail='zeros'`` completes the run
  with those two samples as zeros (like every other video's), changing nothing else.
* ``mix``: for ``n = 1:count``, in order, ``data(:,:,n) = imresize(imresize(data(:,:,n),
  1/mix_lr(unidrnd(numel(mix_lr))), 'bicubic'), [96 96], 'bicubic')``, before the shuffle. In
  ``multi`` mode ``data`` is 96x96xDx3 and ``data(:,:,n)`` indexes the trailing dimensions
  linearly: the first element of every stack is degraded, then the second element of the
  first ``count-D`` stacks (D = stacks allocated, ``count-2`` normally); the rest are not.
  The resize back is to a hard-coded [96 96], so ``mix`` needs ``inputsz == 96``.
* ``order = randperm(count)`` after the mix draws, from the same (global) stream.
* ``augmentation`` *replaces* every sample by its mirror image (``flip(data, 2)``, the
  columns); nothing is added.
* ``mean_sub``: ``data - mean(data(:))``; ``norm``: ``data ./ std(data(:))`` (N-1
  normalisation), both over every element, zero samples and later-dropped samples included.
* ``single``: ``floor(count/chunksz)`` chunks go to ``<savepath>.h5``; the remaining samples
  are dropped. ``multi``: ``new_count = floor(count/split)`` samples per file
  ``<savepath>_<i>.h5`` (i = 1..split), each written by ``writeh5file`` in
  ``floor(new_count/chunksz)`` chunks, dropping the rest of each part and the last
  ``count - split*new_count`` samples.
* ``chunksz = 1`` fails in MATLAB (``size`` drops the trailing singleton of a one-sample batch,
  so ``store2hdf5``'s sample-count assertion fails): rejected here. Fewer samples than
  ``chunksz`` (per file) write nothing and ``h5disp`` then fails: rejected here as well.
* A ``.mat`` without ``video`` or ``valence`` makes ``load`` warn and the loop reuse the
  previous file's variables; rejected here. A scalar ``valence`` is expanded to all frames, as
  MATLAB's assignment does.

The random stream advances as MATLAB's does: ``count`` draws for ``mix`` (one ``unidrnd`` per
frame), then ``count`` for ``randperm``, also when the script goes on to fail after them. The
failures that depend only on frame counts (multi mode, too few samples) are raised from the
``.mat`` headers before any frame is read.

Mean and standard deviation: ``mean(data(:))`` is ``sum/numel`` where ``sum`` is computed here
exactly rounded (the exact sum of all elements, rounded once), independent of the order and
grouping of the elements; ``std`` is ``sqrt(sum((x - sum(x)/n).^2)/(n-1))`` with the same sum.
MATLAB's own summation order is not documented, so these may differ from MATLAB's in the last
bit (and the written singles, rarely, by one unit in the last place); everything else is
element for element.

Besides the ``.h5`` files, ``<savepath>_h5_list.txt`` names them, one per line, for Caffe's
HDF5Data ``source``: absolute paths by default (valid from any working directory, as Caffe
opens them), or with ``list_paths='relative'`` bare file names, which
:class:`caffe_compat.data.hdf5.HDF5Source` resolves against the list file's folder (Caffe
itself only against the working directory). Outputs are replaced together at the end of a
successful run: an interrupted run leaves the previous outputs (or none) and its temporary
folder ``.<name>.generate_h5-*`` is removed (after SIGKILL, delete it by hand).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from .errors import PortError, PortFileError

__all__ = ["H5Options", "H5Result", "generate_h5", "exact_sum", "ExactSum", "main"]

_MODES = ("single", "multi")
_TAILS = ("error", "zeros")
_LIST_PATHS = ("absolute", "relative")


# ---------------------------------------------------------------------------------------------
# Options


@dataclasses.dataclass(frozen=True)
class H5Options:
    """The script's ``options`` struct; defaults are prepare_h5_files.m's values.

    ``multi_tail`` is not the script's: 'error' stops where MATLAB stops in multi mode (see the
    module doc), 'zeros' pads the two unassigned samples with zeros and goes on.
    """

    mode: str = "single"
    augmentation: bool = False
    mean_sub: bool = False
    norm: bool = False
    split: int = 1
    mix: bool = False
    mix_lr: tuple = (3, 4, 6)
    multi_tail: str = "error"

    @classmethod
    def coerce(cls, options):
        """An :class:`H5Options` from None, an H5Options or a dict of some of its fields."""
        if options is None:
            options = {}
        if isinstance(options, H5Options):
            options = dataclasses.asdict(options)
        if not isinstance(options, dict):
            raise PortError(f"options: expected a dict or H5Options, got {type(options).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise PortError(f"options: unknown field(s) {', '.join(unknown)}; expected some of "
                            f"{', '.join(sorted(names))}")
        vals = dict(options)
        mode = vals.get("mode", cls.mode)
        if mode not in _MODES:
            raise PortError(f"options.mode: expected 'single' or 'multi', got {mode!r} "
                            f"(generate_h5.m: 'Unknow mode.')")
        out = {"mode": mode}
        for flag in ("augmentation", "mean_sub", "norm", "mix"):
            v = vals.get(flag, getattr(cls, flag))
            if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, float, np.number))
                                                     and math.isfinite(v)):
                out[flag] = bool(v)
            else:
                raise PortError(f"options.{flag}: expected a logical value (0/1, True/False), "
                                f"got {v!r}")
        split = vals.get("split", cls.split)
        if isinstance(split, (bool, np.bool_)) or not isinstance(split, (int, np.integer)) \
                or split < 1:
            raise PortError(f"options.split: expected a positive integer number of files, got "
                            f"{split!r}")
        out["split"] = int(split)
        lr = vals.get("mix_lr", cls.mix_lr)
        try:
            lr_arr = np.asarray(lr, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise PortError(f"options.mix_lr: expected a list of positive factors, got {lr!r}") \
                from None
        if lr_arr.size == 0 or not np.all(np.isfinite(lr_arr)) or np.any(lr_arr <= 0):
            raise PortError(f"options.mix_lr: expected a non-empty list of positive finite "
                            f"factors, got {lr!r}")
        out["mix_lr"] = tuple(float(v) for v in lr_arr)
        tail = vals.get("multi_tail", cls.multi_tail)
        if tail not in _TAILS:
            raise PortError(f"options.multi_tail: expected 'error' or 'zeros', got {tail!r}")
        out["multi_tail"] = tail
        return cls(**out)


@dataclasses.dataclass
class H5Result:
    """What :func:`generate_h5` wrote."""

    files: list            # .h5 paths, in list-file order
    samples: list          # samples written to each file
    list_file: str         # <savepath>_h5_list.txt
    count: int             # samples before chunking (the script's count)
    dropped: int           # count - sum(samples)
    mean: float | None     # mean(data(:)) subtracted (mean_sub), else None
    std: float | None      # std(data(:)) divided by (norm), else None
    frames: int            # frames read
    seconds: float         # wall time

    def describe(self):
        """Lines saying where what was written."""
        out = []
        for path, n in zip(self.files, self.samples):
            out.append(f"wrote {path}: {n} samples")
        out.append(f"wrote {self.list_file}: {len(self.files)} file(s)")
        out.append(f"{self.frames} frames read, {self.count} samples, {self.dropped} dropped "
                   f"(remainders of the chunks and the split), {self.seconds:.1f} s")
        if self.mean is not None:
            out.append(f"mean subtracted: {self.mean!r}")
        if self.std is not None:
            out.append(f"std divided by: {self.std!r}")
        return out


# ---------------------------------------------------------------------------------------------
# Exactly rounded sums

_UNIT = 1126          # values are accumulated as integers in units of 2^-1126
_BLOCK = 1 << 16      # elements per vectorised step (fits in cache)
_BLOCK_FRAMES = 256   # frames per read/resize step of the streaming passes


class ExactSum:
    """Exactly rounded sum of float64 values given in any order and grouping.

    Each value is split into its exponent and a 53-bit integer mantissa; mantissas are summed
    per exponent in float64 halves small enough to stay exact, then combined in a Python
    integer. :meth:`value` rounds the exact total to the nearest double (ties to even). NaN and
    infinities propagate as IEEE addition would (NaN, or +-Inf); a sum of negative zeros only
    is -0, any other exact zero +0, as in IEEE addition.
    """

    def __init__(self):
        self._total = 0
        self._special = None
        self._negzero = None          # None: nothing added; True: only -0.0 so far

    def add(self, values, times=1):
        """Add every element of ``values`` (``times`` times: a non-negative integer)."""
        a = np.asarray(values, dtype=np.float64).reshape(-1)
        if times == 0 or a.size == 0:
            return
        if self._negzero is not False:
            self._negzero = not np.any(a) and bool(np.all(np.signbit(a)))
        finite = np.isfinite(a)
        if not finite.all():
            bad = a[~finite]
            with np.errstate(invalid="ignore"):
                s = float(np.sum(bad))
            self._special = s if self._special is None else self._special + s
            a = a[finite]
        total = 0
        for start in range(0, a.size, _BLOCK):
            total += _block_sum(a[start:start + _BLOCK])
        self._total += total * int(times)

    def value(self):
        """The sum, rounded once to double."""
        if self._special is not None:
            return self._special
        if self._negzero:
            return -0.0
        try:
            return self._total / (1 << _UNIT)
        except OverflowError:
            return math.inf if self._total > 0 else -math.inf


def _block_sum(a):
    """Exact sum of a block (at most 2^24 finite values) as an integer in units of 2^-1126."""
    if a.size == 0:
        return 0
    m, e = np.frexp(a)
    m *= 9007199254740992.0            # 2^53: |m| < 2^53, an exact integer
    mant = m.astype(np.int64)
    lo = mant & ((1 << 26) - 1)       # low 26 bits, in [0, 2^26)
    mant >>= 26                       # high part, floor division: |hi| <= 2^27
    e0 = int(e.min())
    e -= e0
    # float64 bin sums stay exact: at most 2^24 terms of at most 2^27 in magnitude
    hi_sums = np.bincount(e, weights=mant)
    lo_sums = np.bincount(e, weights=lo)
    total = 0
    for i in np.flatnonzero((hi_sums != 0) | (lo_sums != 0)).tolist():
        total += ((int(hi_sums[i]) << 26) + int(lo_sums[i])) << (e0 + i - 53 + _UNIT)
    return total


def exact_sum(values):
    """The exactly rounded sum of ``values`` (float64)."""
    acc = ExactSum()
    acc.add(values)
    return acc.value()


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


def _representable_f32(video, chunk=None):
    """True when every value of ``video`` (frames last) is exactly a single."""
    if video.dtype == np.float32 or video.dtype.kind == "b" or video.dtype.itemsize <= 2:
        return True
    chunk = chunk or _BLOCK_FRAMES
    for a in range(0, video.shape[2], chunk):
        part = video[:, :, a:a + chunk]
        same = part.astype(np.float32) == part        # compared in double
        if not same.all() and not np.isnan(part[~same]).all():
            return False
    return True


# ---------------------------------------------------------------------------------------------
# The script


def _check_int(v, name, minimum, why=""):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise PortError(f"{name}: expected an integer >= {minimum}{why}, got {v!r}")
    return int(v)


def _bar(progress, total, desc, unit):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress, leave=False,
                dynamic_ncols=True)


def generate_h5(inputs, inputsz, savepath, chunksz, options=None, stream=None, *,
                progress=True, list_paths="absolute"):
    """``generate_h5(input, inputsz, savepath, chunksz, options)`` of the paper's scripts.

    ``inputs``: the ``.mat`` files (``video`` inputsz x inputsz x N, ``valence`` 1xN), in order.
    ``savepath``: output prefix (``<savepath>.h5`` or ``<savepath>_<i>.h5``, and
    ``<savepath>_h5_list.txt``). ``options``: an :class:`H5Options` or a dict of its fields
    (missing ones take prepare_h5_files.m's values). ``stream``: the
    :class:`~matlab_ports.rng.MatlabRandomStream` to draw from (default: the global stream,
    as MATLAB). ``list_paths``: 'absolute' or 'relative' (file names beside the list file).
    Returns an :class:`H5Result`.
    """
    t0 = time.perf_counter()
    opt = H5Options.coerce(options)
    inputsz = _check_int(inputsz, "inputsz", 1)
    chunksz = _check_int(chunksz, "chunksz", 2, " (1 fails in store2hdf5: a one-sample batch "
                         "loses its trailing dimension)")
    if list_paths not in _LIST_PATHS:
        raise PortError(f"list_paths: expected 'absolute' or 'relative', got {list_paths!r}")
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise PortError("inputs: expected at least one .mat file")
    if opt.mix and inputsz != 96:
        raise PortError(f"options.mix: generate_h5.m resizes mixed frames back to a hard-coded "
                        f"[96,96], so inputsz must be 96, got {inputsz}")
    if stream is None:
        from .rng import default_stream

        stream = default_stream()
    savepath = os.fspath(savepath)
    if not savepath or savepath.endswith(os.sep):
        raise PortError(f"savepath: expected a file prefix such as out/train, got {savepath!r}")
    paths = [_resolve_input(p, i + 1) for i, p in enumerate(inputs)]

    out_dir = os.path.dirname(os.path.abspath(savepath))
    base = os.path.basename(savepath)
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{base}.generate_h5-", dir=out_dir)
    job = _Job(opt, inputsz, chunksz, stream, progress, work, base)
    try:
        # The plan needs only the frame counts: from the files' headers it fails early where
        # the script would fail after loading everything. The draws it makes are taken back
        # if a file then turns out unreadable (MATLAB stops at load, before any draw).
        peeks = [_peek_frames(p, inputsz) for p in paths]
        planned = all(n is not None for n in peeks)
        if planned:
            state = stream.get_state()
            job.plan(peeks)
            try:
                job.load(paths, peeks)
            except BaseException:
                stream.set_state(state)
                raise
        else:
            job.load(paths)
            job.plan(job.lengths)
        job.mix()
        job.statistics()
        written = job.write(savepath)
        list_file = savepath + "_h5_list.txt"
        finals = [final for _, final, _ in written]
        for tmp, final, _ in written:
            os.replace(tmp, final)
        if list_paths == "absolute":
            lines = [os.path.abspath(p) for p in finals]
        else:
            lines = [os.path.basename(p) for p in finals]
        from caffe_compat.io.atomic import write_text_atomic

        write_text_atomic(list_file, "".join(line + "\n" for line in lines))
    finally:
        job.close()
        shutil.rmtree(work, ignore_errors=True)
    samples = [n for _, _, n in written]
    return H5Result(files=[os.path.abspath(p) for p in finals], samples=samples,
                    list_file=os.path.abspath(list_file), count=job.count,
                    dropped=job.count - sum(samples),
                    mean=job.mean if opt.mean_sub else None,
                    std=job.std if opt.norm else None, frames=job.frames,
                    seconds=time.perf_counter() - t0)


class _Job:
    """One run of the script over a temporary folder."""

    def __init__(self, opt, inputsz, chunksz, stream, progress, work, name):
        self.opt = opt
        self.size = inputsz
        self.chunksz = chunksz
        self.stream = stream
        self.progress = progress
        self.work = work
        self.name = name
        self.plane = (inputsz, inputsz)           # (cols, rows): a frame's h5 layout
        self.depth = 3 if opt.mode == "multi" else 1
        self.raw = []
        self.raw_frames = None
        self.mixed = None
        self.mean = None
        self.std = None
        self.frames = 0
        self.count = 0

    def close(self):
        for s in self.raw:
            s.close()
        if self.mixed is not None:
            self.mixed.close()

    # ------------------------------------------------------------------ load
    def load(self, paths, expected=None):
        """Read the files into the stores (``expected``: frame counts already planned)."""
        opt = self.opt
        exact_needed = opt.mix or opt.mean_sub or opt.norm
        total = sum(expected) if expected is not None else None
        lengths, labels = [], []
        with _bar(self.progress, total, f"{self.name}: load", "frame") as bar:
            for i, path in enumerate(paths):
                from .matfile import loadmat

                variables = loadmat(path)
                for var in ("video", "valence"):
                    if var not in variables:
                        raise PortFileError(f"{path}: no variable '{var}' (generate_h5.m loads "
                                            f"'video' and 'valence')")
                video = _as_video(variables.pop("video"), path, self.size)
                n = video.shape[2]
                if expected is not None and n != expected[i]:
                    raise PortFileError(f"{path}: 'video' has {n} frames, its header said "
                                        f"{expected[i]}")
                labels.append(_as_labels(variables.pop("valence"), path, n))
                del variables
                f32 = not exact_needed or _representable_f32(video)
                store = _Store(os.path.join(self.work, f"frames_{i}.bin"), self.plane,
                               np.float32 if f32 else np.float64)
                self.raw.append(store)
                planes = video.T                      # (N, cols, rows): h5 plane layout
                for a in range(0, n, _BLOCK_FRAMES):
                    store.append(planes[a:a + _BLOCK_FRAMES])
                    bar.update(min(_BLOCK_FRAMES, n - a))
                lengths.append(n)
                del video, planes
        self.lengths = lengths
        self.label = np.concatenate(labels) if labels else np.zeros(0)
        self.frames = int(sum(lengths))
        self.raw_frames = _Frames(self.raw)

    # ------------------------------------------------------------------ plan
    def plan(self, lengths):
        """Sources of every sample, the random draws, the MATLAB failure points."""
        self.lengths = [int(n) for n in lengths]
        self.count = count = sum(self.lengths)
        opt, depth = self.opt, self.depth
        # src[s, k]: global frame in slot k of sample s, -1 for zeros
        if opt.mode == "single":
            allocated = max(1, count)
            src = np.arange(max(count, allocated), dtype=np.int64)[:, None]
        else:
            starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)
            allocated = 1                               # zeros(inputsz, inputsz, 1, 3)
            for c, n in zip(starts.tolist(), self.lengths):
                if n >= 3:
                    allocated = max(allocated, c + n - 2)
            src = np.full((max(count, allocated), depth), -1, np.int64)
            for c, n in zip(starts.tolist(), self.lengths):
                if n >= 3:
                    j = np.arange(n - 2, dtype=np.int64)
                    for k in range(depth):
                        src[c + j, k] = c + j + k
        self.allocated = allocated
        # mixed slot n (1-based in the script) is data(:,:,n) over the trailing dimensions
        self.order = None
        self.draws = None
        mix_of = np.full(src.shape, -1, np.int64)
        if opt.mix and count:
            slices = allocated * depth
            if count > slices:
                # data(:,:,n) is read before unidrnd draws for that n: slices draws, then error
                self.stream.unidrnd(len(opt.mix_lr), 1, slices)
                raise PortError(f"inputs: {count} frames but the stacks array has only {slices} "
                                f"slices; generate_h5.m's mix loop data(:,:,n) fails with "
                                f"'Index exceeds matrix dimensions' (multi mode, videos shorter "
                                f"than 3 frames)")
            draws = self.stream.unidrnd(len(opt.mix_lr), 1, count).ravel().astype(np.int64)
            n = np.arange(count, dtype=np.int64)
            mix_of[n % allocated, n // allocated] = n
            self.draws = draws
        self.order = self.stream.randperm(count) - 1
        if count > allocated and opt.multi_tail == "error":
            raise PortError(
                f"options.mode 'multi': generate_h5.m cannot finish: count = {count} samples "
                f"but the stacks array holds {allocated} (the last video's final two slots are "
                f"never assigned), so data(:, :, :, randperm(count)) fails in MATLAB with "
                f"'Index exceeds matrix dimensions'. Use options.multi_tail = 'zeros' "
                f"(--multi-tail zeros) to write those two samples as zeros")
        src = src[:count]
        mix_of = mix_of[:count]
        self.src, self.mix_of = src, mix_of
        # how many samples are written
        if opt.mode == "single":
            per = count // self.chunksz * self.chunksz
            if per == 0:
                raise PortError(f"chunksz: {count} samples is fewer than chunksz = "
                                f"{self.chunksz}; generate_h5.m writes no chunk and h5disp "
                                f"then fails")
            self.parts = [(0, per)]
        else:
            new_count = count // opt.split
            per = new_count // self.chunksz * self.chunksz
            if per == 0:
                raise PortError(f"chunksz: {new_count} samples per file (count {count} / split "
                                f"{opt.split}) is fewer than chunksz = {self.chunksz}; "
                                f"writeh5file.m writes no chunk and h5disp then fails")
            self.parts = [(i * new_count, i * new_count + per) for i in range(opt.split)]

    # ------------------------------------------------------------------ mix
    def mix(self):
        opt = self.opt
        count = self.count
        need = np.flatnonzero(self.mix_of.ravel() >= 0)
        if need.size == 0:
            return
        # mixed slots in the script's order n = 1..count
        n_of = self.mix_of.ravel()[need]
        slot = need[np.argsort(n_of, kind="stable")]
        srcs = self.src.ravel()[slot]
        dtype = np.float64 if (opt.mean_sub or opt.norm) else np.float32
        self.mixed = _Store(os.path.join(self.work, "mixed.bin"), self.plane, dtype)
        from .imresize import imresize

        block = _BLOCK_FRAMES
        with _bar(self.progress, count, f"{self.name}: mix", "frame") as bar:
            for a in range(0, slot.size, block):
                s = srcs[a:a + block]
                x = np.zeros((s.size,) + self.plane, np.float64)
                ok = s >= 0
                if ok.any():
                    x[ok] = self.raw_frames.gather(s[ok], np.empty((int(ok.sum()),) + self.plane))
                d = self.draws[a:a + s.size]
                y = np.empty_like(x)
                for v in np.unique(d).tolist():
                    sel = d == v
                    scale = 1.0 / opt.mix_lr[v - 1]
                    small = imresize(x[sel].T, scale, method="bicubic")
                    y[sel] = imresize(small, output_size=(96, 96), method="bicubic").T
                self.mixed.append(y)
                bar.update(s.size)
        self.mix_index = np.full(self.mix_of.shape, -1, np.int64)
        self.mix_index.ravel()[slot] = np.arange(slot.size)
        self.mixed_frames = _Frames([self.mixed])
        if opt.mode == "single":
            for s in self.raw:                          # every frame is replaced by its mix
                s.close(remove=True)
            self.raw = []

    # ------------------------------------------------------------------ statistics
    def _sum(self, fn, desc):
        """Exact sum of ``fn(x)`` over every element of data (all samples, all slots)."""
        acc = ExactSum()
        mixed = self.mix_of >= 0
        plain = ~mixed & (self.src >= 0)
        zeros = int((~mixed & (self.src < 0)).sum())
        mult = np.bincount(self.src[plain], minlength=self.frames) if self.frames else \
            np.zeros(0, np.int64)
        block = _BLOCK_FRAMES
        total = int(plain.sum()) + int(mixed.sum())
        with _bar(self.progress, total, f"{self.name}: {desc}", "slice") as bar:
            if self.raw:
                for a in range(0, self.frames, block):
                    m = mult[a:a + block]
                    if not m.any():
                        continue
                    x = self.raw_frames.gather(np.arange(a, a + m.size),
                                               np.empty((m.size,) + self.plane))
                    fx = fn(x)
                    for t in range(1, int(m.max()) + 1):
                        sel = m == t
                        if sel.any():
                            acc.add(fx[sel], t)
                    bar.update(int(m.sum()))
            if self.mixed is not None:
                for a in range(0, self.mixed.n, block):
                    k = min(block, self.mixed.n - a)
                    x = np.empty((k,) + self.plane)
                    self.mixed.read_run(a, k, x)
                    acc.add(fn(x))
                    bar.update(k)
            if zeros:
                acc.add(fn(np.zeros((1,) + self.plane)), zeros)
        return acc.value()

    def statistics(self):
        opt = self.opt
        if not (opt.mean_sub or opt.norm):
            return
        n = float(self.count * self.depth * self.size * self.size)
        m = self._sum(lambda x: x, "mean") / n
        self.mean = m
        if opt.norm:
            if opt.mean_sub:
                mu = self._sum(lambda x: x - m, "std 1/2") / n
                ss = self._sum(lambda x: np.square((x - m) - mu), "std 2/2")
            else:
                mu = m
                ss = self._sum(lambda x: np.square(x - mu), "std")
            # std of a single element is 0 in MATLAB (n-1 would be 0)
            self.std = math.sqrt(ss / (n - 1)) if n > 1 else 0.0

    # ------------------------------------------------------------------ write
    def _samples(self, s, dtype):
        """Samples ``s`` (0-based) as an (K, depth, cols, rows) array of ``dtype``."""
        out = np.zeros((s.size, self.depth) + self.plane, dtype)
        for k in range(self.depth):
            src = self.src[s, k]
            plain = src >= 0
            if self.mixed is not None:
                mi = self.mix_index[s, k]
                sel = mi >= 0
                if sel.any():
                    out[sel, k] = self.mixed_frames.gather(
                        mi[sel], np.empty((int(sel.sum()),) + self.plane, dtype))
                plain &= ~sel
            if plain.any():
                out[plain, k] = self.raw_frames.gather(
                    src[plain], np.empty((int(plain.sum()),) + self.plane, dtype))
        return out

    def write(self, savepath):
        """Write the files to the work folder: [(temporary path, final path, samples)]."""
        opt = self.opt
        from .hdf5 import MatlabH5Writer

        if opt.mode == "single":
            finals = [savepath + ".h5"]
        else:
            finals = [f"{savepath}_{i + 1}.h5" for i in range(opt.split)]
        exact = opt.mean_sub or opt.norm
        dtype = np.float64 if exact else np.float32
        written = []
        total = sum(b - a for a, b in self.parts)
        dims = (self.size, self.size, self.depth)
        with _bar(self.progress, total, f"{self.name}: write", "sample") as bar:
            for final, (a, b) in zip(finals, self.parts):
                tmp = os.path.join(self.work, os.path.basename(final))
                with MatlabH5Writer(tmp, {"data": dims, "label": (1,)}, self.chunksz) as w:
                    for c in range(a, b, self.chunksz):
                        s = self.order[c:c + self.chunksz]
                        x = self._samples(s, dtype)
                        if opt.augmentation:
                            x = x[:, :, ::-1, :]            # flip(data, 2): the columns
                        if opt.mean_sub:
                            x = x - self.mean
                        if opt.norm:
                            x = x / self.std
                        x = np.ascontiguousarray(x, dtype=np.float32)
                        w.append(data=x.T, label=self.label[s].reshape(1, -1))
                        bar.update(s.size)
                written.append((tmp, final, b - a))
        return written


# ---------------------------------------------------------------------------------------------
# command line


def add_option_arguments(parser):
    """The script's options as command-line flags (shared with prepare_h5_files)."""
    d = H5Options()
    parser.add_argument("--mode", choices=_MODES, default=d.mode,
                        help="'single' frames or 'multi' three-frame stacks (single)")
    parser.add_argument("--augmentation", action="store_true",
                        help="mirror every sample (flip(data, 2); replaces, adds nothing)")
    parser.add_argument("--mean-sub", action="store_true", help="subtract mean(data(:))")
    parser.add_argument("--norm", action="store_true", help="divide by std(data(:))")
    parser.add_argument("--split", type=int, default=d.split,
                        help="multi mode: number of output files (1)")
    parser.add_argument("--mix", action="store_true",
                        help="degrade every frame: bicubic down by a random factor of --mix-lr "
                             "and back to 96x96")
    parser.add_argument("--mix-lr", default=",".join(f"{v:g}" for v in d.mix_lr),
                        help="comma-separated down-scaling factors (3,4,6)")
    parser.add_argument("--multi-tail", choices=_TAILS, default=d.multi_tail,
                        help="multi mode: 'error' stops where MATLAB stops (default); 'zeros' "
                             "writes the last video's two unassigned samples as zeros")
    parser.add_argument("--chunk", type=int, default=128, help="samples per chunk (128)")
    parser.add_argument("--size", type=int, default=96, help="frame size inputsz (96)")
    parser.add_argument("--seed", type=int, default=0,
                        help="rng(seed) of a fresh MATLAB session before the first file (0)")
    parser.add_argument("--relative-list", action="store_true",
                        help="list file names the .h5 files relative to its folder "
                             "(default: absolute paths)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def options_from_args(args):
    try:
        mix_lr = tuple(float(v) for v in args.mix_lr.split(",") if v.strip())
    except ValueError:
        raise PortError(f"--mix-lr: expected comma-separated numbers, got {args.mix_lr!r}") \
            from None
    return H5Options.coerce({"mode": args.mode, "augmentation": args.augmentation,
                             "mean_sub": args.mean_sub, "norm": args.norm, "split": args.split,
                             "mix": args.mix, "mix_lr": mix_lr, "multi_tail": args.multi_tail})


def run_cli(fn):
    """Run ``fn()`` and turn PortError/OSError into a message and exit status 1."""
    try:
        return fn()
    except PortError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m matlab_ports.generate_h5",
        description="generate_h5.m / writeh5file.m: HDF5 training files (and the list file "
                    "HDF5Data reads) from prepare_dataset.m's <seq>.mat files.")
    parser.add_argument("inputs", nargs="+", help="input .mat files, in order")
    parser.add_argument("--save", required=True,
                        help="output prefix savepath: writes <save>.h5 (single) or "
                             "<save>_<i>.h5 (multi) and <save>_h5_list.txt")
    add_option_arguments(parser)
    args = parser.parse_args(argv)

    def go():
        from .rng import MatlabRandomStream

        opt = options_from_args(args)
        stream = MatlabRandomStream(_check_int(args.seed, "--seed", 0))
        res = generate_h5(args.inputs, args.size, args.save, args.chunk, opt, stream,
                          progress=not args.quiet,
                          list_paths="relative" if args.relative_list else "absolute")
        for line in res.describe():
            print(line)
        return 0

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
