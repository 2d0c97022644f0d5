"""Table 1 of the paper beside ours: Markdown, CSV and a plot.

The paper's values are package data (``lq_models/paper_table1.json``, read through
:func:`lq_models.paper_table`, with its citation); ours come from the evaluation of each model on
the development sequences. Our CC and CCC are those of the authors' evaluation script
(run_eval.m: CC = mean of products over two N-1 standard deviations, CCC from it), the metric
the paper's table reports; the CSV also carries the textbook Pearson r and the AVEC CCC.
Deltas are ours minus the paper's.

    python -m reproduction table --out DIR        # re-render from a finished run
    python -m reproduction table --paper          # the paper's table alone
"""
from __future__ import annotations

import csv
import io
import math

import lq_models

from . import recipes as R

__all__ = ["paper_values", "rows", "to_markdown", "to_csv", "plot", "write_table",
           "CSV_COLUMNS", "citation"]

CSV_COLUMNS = ("s", "method", "paper_rmse", "paper_cc", "paper_ccc", "rmse", "cc", "ccc",
               "delta_rmse", "delta_cc", "delta_ccc", "pearson_r", "ccc_avec")


def citation():
    """The citation of the paper's Table 1 (one line)."""
    return lq_models.paper_citation()


def paper_values():
    """``{(s or None, method): {"rmse", "cc", "ccc"}}`` of the paper's Table 1."""
    return {(r["s"], r["method"]): {k: float(r[k]) for k in ("rmse", "cc", "ccc")}
            for r in lq_models.paper_table()["rows"]}


def _row_keys(methods, factors):
    methods = R.parse_methods(methods)
    factors = R.parse_factors(factors)
    keys = []
    if "hr" in methods:
        keys.append((None, "HR"))
    for s in factors:
        for m in ("lr", "nonjoint", "joint", "joint-oa"):
            if m in methods:
                keys.append((s, R.method_name(m, s)))
    return keys


def _num(v):
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def rows(ours, methods=R.METHODS, factors=R.PAPER_FACTORS):
    """One dict per Table 1 row (``CSV_COLUMNS``): the paper's values, ours (``ours``: ``{(s,
    method): metrics}`` with run_eval's keys ``rmse``, ``cc_run_eval``, ``ccc_run_eval``,
    ``pearson_r``, ``ccc_avec``), and the deltas. NaN where a value is missing."""
    paper = paper_values()
    out = []
    for key in _row_keys(methods, factors):
        p = paper.get(key, {})
        m = ours.get(key) or {}
        row = dict(s=key[0], method=key[1],
                   paper_rmse=_num(p.get("rmse")), paper_cc=_num(p.get("cc")),
                   paper_ccc=_num(p.get("ccc")),
                   rmse=_num(m.get("rmse")), cc=_num(m.get("cc_run_eval")),
                   ccc=_num(m.get("ccc_run_eval")), pearson_r=_num(m.get("pearson_r")),
                   ccc_avec=_num(m.get("ccc_avec")))
        for k in ("rmse", "cc", "ccc"):
            row[f"delta_{k}"] = row[k] - row[f"paper_{k}"]
        out.append(row)
    return out


def _f(v, signed=False):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def to_markdown(table_rows, notes=()):
    """The table as Markdown (paper | ours | delta for RMSE, CC, CCC), with the citation."""
    lines = ["# Table 1: valence on the development set, paper vs this reproduction", "",
             f"Paper: {citation()} Table 1 (values stored in lq_models/paper_table1.json).", "",
             "| s | method | RMSE paper | RMSE ours | Δ | CC paper | CC ours | Δ | "
             "CCC paper | CCC ours | Δ |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table_rows:
        s = "-" if r["s"] is None else str(r["s"])
        cells = [s, r["method"]]
        for k in ("rmse", "cc", "ccc"):
            cells += [_f(r[f"paper_{k}"]), _f(r[k]), _f(r[f"delta_{k}"], True)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "CC and CCC as the authors' run_eval.m computes them (the CSV adds the "
              "textbook Pearson r and the AVEC CCC); Δ = ours − paper; — = not run."]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def to_csv(table_rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in table_rows:
        out = []
        for c in CSV_COLUMNS:
            v = r[c]
            if c == "s":
                out.append("" if v is None else str(v))
            elif isinstance(v, float):
                out.append("" if math.isnan(v) else f"{v:.6f}")
            else:
                out.append(str(v))
        w.writerow(out)
    return buf.getvalue()


def plot(table_rows, path, title=None):
    """CC and CCC against s, per method family: ours solid, the paper's dashed; HR as
    horizontal lines."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from caffe_compat.io.atomic import write_bytes_atomic
    fig = Figure(figsize=(11, 4.2), dpi=100)
    axes = fig.subplots(1, 2)
    colors = {"LR": "tab:blue", "Non-Joint": "tab:green", "Joint": "tab:orange",
              "Joint-OA": "tab:red", "HR": "k"}

    def family(method):
        for f in ("Joint-OA", "Non-Joint", "Joint", "LR", "HR"):
            if method.startswith(f):
                return f
        return method
    for ax, metric in zip(axes, ("cc", "ccc")):
        fams = list(dict.fromkeys(family(r["method"]) for r in table_rows))
        for fam in fams:
            pts = [r for r in table_rows if family(r["method"]) == fam]
            if fam == "HR":
                for r in pts:
                    if not math.isnan(r[metric]):
                        ax.axhline(r[metric], color="k", label="HR (ours)")
                    ax.axhline(r[f"paper_{metric}"], color="k", linestyle="--",
                               label="HR (paper)")
                continue
            xs = [r["s"] for r in pts]
            ax.plot(xs, [r[metric] for r in pts], marker="o", color=colors.get(fam),
                    label=f"{fam} (ours)")
            ax.plot(xs, [r[f"paper_{metric}"] for r in pts], marker="x", linestyle="--",
                    color=colors.get(fam), alpha=0.7, label=f"{fam} (paper)")
        ax.set_xscale("log")
        sv = sorted({r["s"] for r in table_rows if r["s"] is not None})
        ax.set_xticks(sv)
        ax.set_xticklabels([str(s) for s in sv])
        ax.minorticks_off()
        ax.set_xlabel("downsampling factor s")
        ax.set_ylabel(metric.upper() + " (run_eval.m)")
        ax.set_title(f"{metric.upper()} vs s: ours (solid) and the paper's Table 1 (dashed)",
                     fontsize=10)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())
    return path


def write_table(ours, out_dir, methods=R.METHODS, factors=R.PAPER_FACTORS, notes=()):
    """Write ``table1.md``, ``table1.csv`` and ``table1.png`` under ``out_dir`` (atomically);
    returns their paths."""
    import os

    from caffe_compat.io.atomic import write_text_atomic
    table_rows = rows(ours, methods, factors)
    files = dict(markdown=os.path.join(out_dir, "table1.md"),
                 csv=os.path.join(out_dir, "table1.csv"),
                 png=os.path.join(out_dir, "table1.png"))
    write_text_atomic(files["markdown"], to_markdown(table_rows, notes))
    write_text_atomic(files["csv"], to_csv(table_rows))
    plot(table_rows, files["png"])
    return files
