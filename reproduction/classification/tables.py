"""The seed's table layouts and pictures, ours beside its published values.

- :func:`accuracy_table`: resolution rows x frame-rate columns for one method, each cell our
  accuracy with its 95 % bootstrap interval over the test clips, the seed's value beside it
  where it gives one (``seed_values.json``: the cells issue 46 quotes; elsewhere its range);
- :func:`table1`: the per-frame Table 1 layout (recall and F1 per class, overall accuracy);
- :func:`write_confusion`: a confusion matrix as CSV (counts) and PNG (row-normalised, with
  counts), via matplotlib, written atomically.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np

from caffe_compat.io.atomic import write_bytes_atomic, write_text_atomic

__all__ = ["seed_values", "accuracy_table", "table1", "write_confusion"]


def seed_values():
    with open(os.path.join(os.path.dirname(__file__), "seed_values.json"),
              encoding="utf-8") as f:
        return json.load(f)


def accuracy_table(method, cells, resolutions, rates):
    """Markdown: ``cells[(res, fps)]`` -> Interval of the accuracy."""
    seed = seed_values()["clip_accuracy"].get(method, {})
    head = "| resolution | " + " | ".join(f"{r} fps (ours) | {r} fps (seed)" for r in rates)
    rows = [f"### {method}: clip accuracy", "", head + " |",
            "|---" * (1 + 2 * len(rates)) + "|"]
    for res in resolutions:
        parts = []
        for fps in rates:
            theirs = seed.get("cells", {}).get(f"{res}@{fps}")
            parts += [cells[(res, fps)].format(3),
                      "-" if theirs is None else f"{theirs:.2f}"]
        rows.append(f"| {res} | " + " | ".join(parts) + " |")
    if seed.get("range"):
        lo, hi = seed["range"]
        rows += ["", f"The seed's {method} accuracies lie in {lo:.2f}-{hi:.2f} (cells it "
                 "quotes are beside ours; '-': not quoted)."]
    return "\n".join(rows)


def table1(classes, per_class, accuracy, title):
    """Markdown in Table 1's layout: one row per class (recall, F1), then the accuracy."""
    rows = [f"### {title}", "", "| class | recall | F1 | faces |", "|---|---|---|---|"]
    for k, name in enumerate(classes):
        rows.append(f"| {name} | {per_class['recall'][k]:.2f} | {per_class['f1'][k]:.2f} | "
                    f"{int(per_class['support'][k])} |")
    rows.append(f"| **accuracy** | {accuracy.format(2)} | | |")
    return "\n".join(rows)


def write_confusion(matrix, classes, stem, title):
    """``stem.csv`` (counts, true class per row) and ``stem.png``."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    m = np.asarray(matrix)
    lines = ["true\\predicted," + ",".join(classes)]
    lines += [f"{c}," + ",".join(str(int(v)) for v in row) for c, row in zip(classes, m)]
    write_text_atomic(stem + ".csv", "\n".join(lines) + "\n")
    with np.errstate(invalid="ignore"):
        norm = np.nan_to_num(m / m.sum(axis=1, keepdims=True))
    fig = Figure(figsize=(6.4, 5.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(stem + ".png", buf.getvalue())
