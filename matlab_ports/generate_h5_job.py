"""One run of ``generate_h5.m`` over a temporary folder: load, plan, mix, statistics, write.

The steps and their quirks are described in :mod:`matlab_ports.generate_h5`; this module holds
the streaming implementation (:class:`_Job`): frames are loaded into :mod:`.generate_h5_store`
files, the random draws are made in the script's order (``mix`` then ``randperm``), mixed
frames are computed once into their own store, mean and standard deviation are exact sums
(:mod:`.exact_sum`) over the store, and the samples are written chunk by chunk with the
per-element steps applied on the way.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .errors import PortError, PortFileError
from .exact_sum import ExactSum
from .generate_h5_store import _as_labels, _as_video, _Frames, _representable_f32, _Store

_BLOCK_FRAMES = 256   # frames per read/resize step of the streaming passes


def _bar(progress, total, desc, unit):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress, leave=False,
                dynamic_ncols=True)


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
                f32 = not exact_needed or _representable_f32(video, _BLOCK_FRAMES)
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
