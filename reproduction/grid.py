"""The resolution x frame-rate grid: how valence prediction holds up when the faces reach the
model at a lower spatial *and* temporal resolution (Maclean 2021's grid of 3 resolutions x 3
frame rates, on the paper's faces).

For every spatial factor s (default {1, 3, 6, 12}: 96x96, 32x32, 16x16 and 8x8 faces, degraded
and brought back to 96x96 as prepare_dataset.m does, :func:`reproduction.crops.degrade_video`;
s = 1 is the HR crops) and frame-rate divisor r (default {1, 2, 6}: AVEC's 25 fps -> 25, 12.5,
4.2 fps), every development sequence is seen as a receiver sees it: only frames 0, r, 2r...
arrive; each model predicts on those and every prediction is held until the next
(:mod:`reproduction.temporal`), so RMSE, CC and CCC (run_eval.m's formulas, on the
concatenation of the sequences) stay on the gold standard's full time grid.

Models: the per-frame CNN+D models of the run (HR, LR-s at its own s, Joint-OA, and the CCC
fine-tuned CNN+D) and the temporal models over the base model's ``fc4`` features (windowed
mean and median, the CNN-LSTM). A per-frame prediction does not depend on r, so each model
runs once per s on every frame and each r picks its frames.

Writes ``grid.csv`` (one row per s, r and model), ``grid.md`` (per metric, a table of models x
resolutions against the frame rates, as the seed's tables) and ``grid_ccc.png`` /
``grid_cc.png`` (one heat map per model: resolution x frame rate).
"""
from __future__ import annotations

import csv
import io
import math

import numpy as np

from .temporal import FPS, hold, received

__all__ = ["GRID_FACTORS", "GRID_DIVISORS", "CSV_COLUMNS", "evaluate_s", "write_csv",
           "read_csv", "to_markdown", "plot"]

GRID_FACTORS = (1, 3, 6, 12)
GRID_DIVISORS = (1, 2, 6)
CSV_COLUMNS = ("s", "resolution", "divisor", "fps", "model", "kind", "frames",
               "frames_received", "rmse", "cc", "ccc", "pearson_r", "ccc_avec")


def evaluate_s(s, gold, per_frame, temporal, divisors=GRID_DIVISORS):
    """The rows of one spatial factor ``s``.

    ``gold``: ``[valence (N_i,)]`` per sequence; ``per_frame``: ``{label: [prediction of every
    frame (N_i,)]}``; ``temporal``: ``{label: fn(sequence index, received idx) -> prediction
    of each received frame}``. Returns rows (:data:`CSV_COLUMNS`)."""
    from matlab_ports.run_eval import all_metrics
    rows = []
    for r in divisors:
        idxs = [received(len(g), r) for g in gold]
        models = {label: (lambda i, idx, p=preds: np.asarray(p[i])[idx], "per-frame")
                  for label, preds in per_frame.items()}
        models.update({label: (fn, "temporal") for label, fn in temporal.items()})
        for label, (fn, kind) in models.items():
            held = [hold(fn(i, idx), idx, len(g)) for i, (g, idx) in enumerate(zip(gold, idxs))]
            m = all_metrics(np.concatenate(gold), np.concatenate(held))
            rows.append(dict(s=int(s), resolution=f"{96 // s}x{96 // s}", divisor=int(r),
                             fps=round(FPS / r, 2), model=label, kind=kind,
                             frames=int(sum(len(g) for g in gold)),
                             frames_received=int(sum(i.size for i in idxs)),
                             rmse=_f(m["rmse"]), cc=_f(m["cc_run_eval"]),
                             ccc=_f(m["ccc_run_eval"]), pearson_r=_f(m["pearson_r"]),
                             ccc_avec=_f(m["ccc_avec"])))
    return rows


def _f(v):
    return math.nan if v is None else float(v)


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def write_csv(rows, path):
    """``grid.csv`` (atomically)."""
    from caffe_compat.io.atomic import write_text_atomic
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([_fmt(r[c]) for c in CSV_COLUMNS])
    write_text_atomic(path, buf.getvalue())
    return path


def read_csv(path):
    """Rows of a ``grid.csv`` (numbers parsed)."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row = dict(r)
            for k in ("s", "divisor", "frames", "frames_received"):
                row[k] = int(r[k])
            for k in ("fps", "rmse", "cc", "ccc", "pearson_r", "ccc_avec"):
                row[k] = float(r[k]) if r[k] != "" else math.nan
            out.append(row)
    return out


def _models(rows):
    return list(dict.fromkeys(r["model"] for r in rows))


def _cell(rows, model, s, r, metric):
    for row in rows:
        if row["model"] == model and row["s"] == s and row["divisor"] == r:
            return row[metric]
    return None


def to_markdown(rows, notes=()):
    """``grid.md``: for CCC, CC and RMSE a table whose rows are model x resolution and whose
    columns are the frame rates (a blank cell: the model does not exist at that s)."""
    factors = sorted({r["s"] for r in rows})
    divisors = sorted({r["divisor"] for r in rows})
    lines = ["# Resolution x frame-rate grid", ""]
    lines += [n for n in notes] + ([""] if notes else [])
    for metric in ("ccc", "cc", "rmse"):
        lines += [f"## {metric.upper()}", "",
                  "| model | face | " + " | ".join(f"{FPS / r:.3g} fps" for r in divisors)
                  + " |", "|---|---|" + "---:|" * len(divisors)]
        for model in _models(rows):
            for s in factors:
                cells = [_cell(rows, model, s, r, metric) for r in divisors]
                if all(c is None for c in cells):
                    continue
                lines.append(f"| {model} | {96 // s}x{96 // s} | " + " | ".join(
                    "" if c is None else ("nan" if math.isnan(c) else f"{c:.3f}")
                    for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(rows, path, metric="ccc"):
    """One heat map per model: rows the resolutions, columns the frame rates, colour the
    metric (a shared scale; blank where the model does not exist)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from caffe_compat.io.atomic import write_bytes_atomic
    models = _models(rows)
    factors = sorted({r["s"] for r in rows})
    divisors = sorted({r["divisor"] for r in rows})
    vals = [r[metric] for r in rows if not math.isnan(r[metric])]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if metric in ("cc", "ccc"):
        lo, hi = min(lo, 0.0), max(hi, 1e-6)
    cols = min(4, len(models))
    nrows = -(-len(models) // cols)
    fig = Figure(figsize=(3.0 * cols + 1.6, 2.9 * nrows + 0.8), dpi=100)
    axes = fig.subplots(nrows, cols, squeeze=False,
                        gridspec_kw=dict(wspace=0.15, hspace=0.6, left=0.08, right=0.86,
                                         top=0.86, bottom=0.1))
    image = None
    for k, model in enumerate(models):
        ax = axes[k // cols][k % cols]
        grid = np.full((len(factors), len(divisors)), np.nan)
        for i, s in enumerate(factors):
            for j, r in enumerate(divisors):
                v = _cell(rows, model, s, r, metric)
                grid[i, j] = np.nan if v is None else v
        image = ax.imshow(np.ma.masked_invalid(grid), vmin=lo, vmax=hi, cmap="viridis",
                          aspect="auto")
        for i in range(len(factors)):
            for j in range(len(divisors)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="w" if grid[i, j] < (lo + hi) / 2 else "k")
        ax.set_xticks(range(len(divisors)), [f"{FPS / r:.3g}" for r in divisors])
        ax.set_yticks(range(len(factors)), [f"{96 // s}x{96 // s}" for s in factors]
                      if k % cols == 0 else [])
        ax.set_xlabel("frames per second")
        ax.set_title(model, fontsize=9)
    for k in range(len(models), nrows * cols):
        axes[k // cols][k % cols].axis("off")
    if image is not None:
        fig.colorbar(image, cax=fig.add_axes([0.89, 0.15, 0.02, 0.65]), label=metric.upper())
    fig.suptitle(f"Valence {metric.upper()} by face resolution and frame rate "
                 "(predictions held between received frames)", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())
    return path
