"""How much of the valence cue survives downsampling by s: a probe of the face crops.

A claim about super-resolution features is testable on a sample only if (a) the valence cue
lives partly at scales that downsampling by s removes (otherwise LR-s loses nothing and there
is nothing to restore) and (b) an SR-FCN trained on the sample restores some of those scales
(:mod:`reproduction.sr_gain`). This module measures (a) without training a CNN: a ridge
regression from histograms of oriented gradients (Dalal and Triggs' HOG, the classic
expression-recognition baseline: gradients binned by orientation in 6x6-pixel cells, 9
unsigned bins, each 2x2 block of cells L2-normalised, clipped at 0.2 and normalised again) of
the 96x96 crops to valence, fitted on the training faces of one condition (HR, or LR-s:
``imresize(imresize(face, 1/s), [96 96])``, the crops the LR-s models see) and scored by
run_eval's CCC on the development faces of that condition, with a bootstrap interval over the
verdicts' units (:class:`reproduction.claims.Units`). ``CCC(HR) - CCC(LR-s)`` is the part of
the cue this reader finds that downsampling by s removes. Histograms within cells tolerate the
few pixels of misalignment head motion leaves in the crops; a ridge on the raw pixels does not
(``reader=pixels``: its CCC rises as s grows, because blurring aligns the faces better, not
because LR faces carry more). The probe's CCC is what a fixed, simple reader gets, not what a
CNN can; every setting (cells, bins, the ridge penalty) was fixed before the first measurement.

    python -m reproduction.cue_survival --out demo_out      # on a finished demo or reproduce

The ridge is solved in its dual form (``K = X X^T``, a few hundred faces), centred, with the
penalty ``RIDGE`` times the mean diagonal of K.
"""
from __future__ import annotations

import os

import numpy as np

from . import claims as C, statistics as S

__all__ = ["RIDGE", "CELL", "BINS", "READERS", "hog", "pixels", "probe_predictions",
           "survival", "main"]

RIDGE = 0.1
CELL = 6
BINS = 9


def _faces(crops_dir, sequences, step=1):
    from matlab_ports.matfile import loadmat
    xs, ys, seqs, frames = [], [], [], []
    for name in sequences:
        d = loadmat(os.path.join(crops_dir, name + ".mat"))
        v = np.asarray(d["video"], np.float64)
        if v.ndim == 2:
            v = v[:, :, None]
        g = np.asarray(d["valence"], np.float64).ravel()
        keep = np.arange(0, v.shape[2], step)
        xs.append(v[:, :, keep].reshape(-1, keep.size).T)
        ys.append(g[keep])
        seqs += [name] * keep.size
        frames.append(keep)
    return np.concatenate(xs), np.concatenate(ys), seqs, np.concatenate(frames)


def probe_predictions(x_train, y_train, x_test, ridge=RIDGE):
    """Dual ridge regression: predictions for ``x_test`` (rows are faces)."""
    mu, ym = x_train.mean(axis=0), y_train.mean()
    a, b = x_train - mu, x_test - mu
    k = a @ a.T
    lam = ridge * float(np.mean(np.diag(k)))
    alpha = np.linalg.solve(k + lam * np.eye(k.shape[0]), y_train - ym)
    return (b @ a.T) @ alpha + ym


def pixels(face):
    """The raw pixels of a 96x96 face as a vector (the shift-sensitive reader)."""
    return np.asarray(face, np.float64).ravel()


def hog(face, cell=CELL, bins=BINS):
    """HOG features of a 2-D face (module doc): ``(cells-1)^2 * 4 * bins`` values."""
    f = np.asarray(face, np.float64)
    gy, gx = np.gradient(f)
    mag = np.hypot(gx, gy)
    ori = np.mod(np.arctan2(gy, gx), np.pi)
    b = np.minimum((ori / np.pi * bins).astype(np.int64), bins - 1)
    n = f.shape[0] // cell
    m = f.shape[1] // cell
    cy = np.minimum(np.arange(f.shape[0]) // cell, n - 1)[:, None]
    cx = np.minimum(np.arange(f.shape[1]) // cell, m - 1)[None, :]
    flat = ((cy * m + cx) * bins + b).ravel()
    h = np.bincount(flat, mag.ravel(), minlength=n * m * bins).reshape(n, m, bins)
    blocks = np.concatenate([h[:-1, :-1], h[1:, :-1], h[:-1, 1:], h[1:, 1:]], axis=2)
    blocks = blocks / np.sqrt(np.sum(blocks ** 2, axis=2, keepdims=True) + 1e-12)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt(np.sum(blocks ** 2, axis=2, keepdims=True) + 1e-12)
    return blocks.ravel()


READERS = {"hog": hog, "pixels": pixels}


def survival(crops, train, dev, units, resampler, step=1, reader="hog"):
    """``{condition: Interval}`` of the probe's dev CCC per condition and ``{condition:
    Interval}`` of ``CCC(HR) - CCC(condition)``. ``crops``: ``{condition: crops folder}`` with
    an ``"HR"`` entry; ``units``: :class:`reproduction.claims.Units` of the dev frames."""
    read = READERS[reader]
    cells = {}
    for cond, folder in crops.items():
        xt, yt, _, _ = _faces(folder, train, step)
        xd, yd, seqs, frames = _faces(folder, dev, 1)
        xt = np.stack([read(x.reshape(96, 96)) for x in xt])
        xd = np.stack([read(x.reshape(96, 96)) for x in xd])
        pred = probe_predictions(xt, yt, xd)
        cells[cond] = C.Scores(f"probe-{cond}", yd, pred[None], units.of(seqs, frames))
    level = {c: resampler.interval(C.ccc_statistic(s, resampler.units))
             for c, s in cells.items()}
    lost = {c: C.ccc_difference(resampler, cells["HR"], s)
            for c, s in cells.items() if c != "HR"}
    return level, lost



def _plot(level, path):
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from caffe_compat.io.atomic import write_bytes_atomic
    fig = Figure(figsize=(5, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    names = list(level)
    est = np.array([level[c].estimate for c in names])
    err = np.array([[level[c].estimate - level[c].low for c in names],
                    [level[c].high - level[c].estimate for c in names]])
    ax.bar(names, est, yerr=err, capsize=4, color="tab:blue", alpha=0.8)
    ax.set_ylabel("dev CCC of the HOG probe")
    ax.set_title("valence cue kept after downsampling (95 % intervals)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())
    return path


def main(argv=None):
    """``python -m reproduction.cue_survival --out RUN``: the probe on a finished run's crops;
    prints the table and writes ``cue_survival.md`` and ``cue_survival.png`` into RUN."""
    import argparse
    import json
    import sys

    from caffe_compat.io.atomic import write_text_atomic

    from .pipeline import Config, Pipeline, ReproductionError
    ap = argparse.ArgumentParser(prog="python -m reproduction.cue_survival",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="a finished demo or reproduce folder")
    ap.add_argument("--reader", default="hog", choices=sorted(READERS))
    ap.add_argument("--train-step", type=int, default=1,
                    help="every how many training frames the probe is fitted on (1)")
    args = ap.parse_args(argv)
    try:
        with open(os.path.join(args.out, "pipeline.json"), encoding="utf-8") as fh:
            pipe = Pipeline(Config.from_json(json.load(fh)), progress=False,
                            log=lambda line: None)
        hr = pipe.outputs("crops-hr")
        crops = {"HR": hr["dir"]}
        crops.update({f"LR-{s}": pipe.outputs(f"crops-lr-{s}")["dir"]
                      for s in pipe.config.factors if f"crops-lr-{s}" in pipe.steps})
    except (OSError, ValueError, ReproductionError) as e:
        print(f"error: --out {args.out}: {e} (expected a finished demo or reproduce folder)",
              file=sys.stderr)
        return 1
    from matlab_ports.run_eval import load_crops
    lengths = {d: int(load_crops(os.path.join(hr["dir"], d + ".mat")).valence.size)
               for d in hr["dev"]}
    units = C.Units(lengths)
    resampler = S.Resampler(units.count, unit=units.kind)
    level, lost = survival(crops, hr["train"], hr["dev"], units, resampler, args.train_step,
                           args.reader)
    lines = [f"Valence cue kept after downsampling: {args.reader} probe, ridge {RIDGE:g}, dev "
             f"CCC with 95 % intervals over {units.describe()}", "",
             "| faces | probe CCC | CCC(HR) - CCC(faces) |", "|---|---|---|"]
    for cond, iv in level.items():
        lines.append(f"| {cond} | {iv.format()} | "
                     f"{lost[cond].format() if cond in lost else '—'} |")
    text = "\n".join(lines) + "\n"
    write_text_atomic(os.path.join(args.out, "cue_survival.md"), text)
    png = _plot(level, os.path.join(args.out, "cue_survival.png"))
    print(text + f"\n{os.path.join(args.out, 'cue_survival.md')}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
