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

This module holds the options, the entry point and the command line; the run itself is
:mod:`.generate_h5_job`'s, the inputs and the frame store :mod:`.generate_h5_store`'s and the
exact sums :mod:`.exact_sum`'s.
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

from .errors import PortError
from .exact_sum import ExactSum, exact_sum  # noqa: F401 (public here)
from .generate_h5_job import _Job
from .generate_h5_store import _peek_frames, _resolve_input
from caffe_compat.diagnostics.progress import bars_wanted

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
# The script


def _check_int(v, name, minimum, why=""):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise PortError(f"{name}: expected an integer >= {minimum}{why}, got {v!r}")
    return int(v)


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
                          progress=bars_wanted(args.quiet),
                          list_paths="relative" if args.relative_list else "absolute")
        for line in res.describe():
            print(line)
        return 0

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
