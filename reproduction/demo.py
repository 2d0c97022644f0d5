"""The one-command demo: the whole reproduction on the bundled sample, in minutes on a CPU.

    python -m reproduction demo [--out demo_out] [--all-methods] [--temporal]

It generates the AVEC-like sample into ``<out>/sample`` and runs every step of
:mod:`reproduction.pipeline` on it: face crops, LR crops at s = 3, 6 and 12, the HDF5 files
(the Joint-OA mix {3, 4, 6} through generate_h5's ``mix`` option), SR-FCN pre-training at s = 6
(the largest factor of the mix) on patches of the training faces, HR / LR-s / Joint-OA
training (with ``--all-methods`` also Joint-s and Non-Joint-s and their SR-FCNs), evaluation on
the dev sequences, Table 1 next to the paper's, and the Figure 4 study at s = 3. It ends with
the table, what it found (does CCC fall as s grows? does Joint-OA beat LR-s, by how much?) and
where every file is. Rerunning it resumes (finished steps are skipped).

It also prints a verdict per claim of the paper (:mod:`reproduction.claims`): supported,
contradicted, inconclusive or not testable, each with the 95 % bootstrap interval that decides
it (over segments of the dev sequences; one seed per model, all the budget affords), and the
SR-FCN's PSNR gain over bicubic on held-out dev faces. The claims about super-resolution
features (Joint-s against Non-Joint-s; Joint-OA against LR-s and Joint-s) are not testable in
the demo: its SR-FCN does not beat bicubic, so the printout names them as claims only a
longer budget tests. The verdicts add about 10 s (the SR-FCN on every 8th dev face, 8 GFLOP
each; 2,000 bootstrap replicates per interval, computed from per-unit sums). ``--budget long``
(:mod:`reproduction.long_budget`) is the run for the claims the demo cannot test.

The budget. A CNN+D training iteration of 8 faces is about 29 GFLOP forward and backward,
bound by arithmetic: about 35 ms per 96x96 face on a quiet 2-core AVX2 machine, about 60 ms
on one of its cores while another process holds the other; an SR-FCN iteration costs about
20 ms per 32x32 patch and an evaluation about 9 ms per face on the two cores. The published
recipe (30,000 iterations of 128 faces per model) would take some 37 hours per model there;
the demo gives each CNN+D 150 iterations of 8 faces (two passes over the sample's 600
training faces) and the SR-FCN 80 iterations of 8 patches
(:data:`reproduction.recipes.SCHEDULES` ``['demo']``), about 1/3200 of the published
training: about 4.5 minutes in all on the two cores and under 10 with one of them taken,
enough for the pipeline to run end to end and for the trends to be measured, not for the
paper's numbers.

``--temporal`` adds the time axis (:mod:`reproduction.grid_steps`): Joint-OA fine-tuned on
CCCLoss (40 iterations of 32 faces), the CNN-LSTM over Joint-OA's fc4 features (64 LSTM units
instead of the seed's 1024, T = 12 steps, 8 streams, 150 Adam iterations) and the resolution x
frame-rate grid (s in {1, 3, 6, 12} x 25, 12.5, 4.2 fps) with its table and heat maps, a few
more minutes.

Departures, all in the ``demo`` schedule only: batch 8 instead of 128, the iteration counts
above, and the SR-FCN's weight fillers (xavier instead of gaussian std 0.001: with the
published fillers, a few hundred iterations leave conv1-conv3 at about 0.001 and the Joint
models initialised from them output one constant, so CC is undefined).
"""
from __future__ import annotations

import json
import math
import time

from . import recipes as R
from .verdicts import run_verdicts

__all__ = ["DEMO_SAMPLE", "DEMO_FACTORS", "DEMO_METHODS", "ALL_METHODS", "DEMO_FIGURE4",
           "DEMO_TEMPORAL",
           "demo_config", "earlier_steps_seconds", "estimate_seconds", "findings", "h5_commands",
           "run_demo", "wall_time_text"]

DEMO_SAMPLE = dict(n_train=3, n_dev=2, n_frames=200, seed=0)
DEMO_FACTORS = (3, 6, 12)
DEMO_METHODS = ("hr", "lr", "joint-oa")
ALL_METHODS = R.METHODS
DEMO_FIGURE4 = dict(factors=[3], qps=[16, 24, 32, 40, 48], frame_step=3)
DEMO_TEMPORAL = dict(factors=[1, 3, 6, 12], divisors=[1, 2, 6], window=25, T=12, stride=6,
                     streams=8, hidden=64, ccc_batch=32)
# per-item costs (seconds) on the 2-core AVX2 machine when quiet, for the up-front estimate
# (other jobs on the machine can double or triple them). A CNN+D training face: 30 ms (about
# 29 GFLOP per step of 8 at the machine's 120 GFLOP/s; the measured 265 s demo less its SR-FCN,
# evaluations, Figure 4 and data steps leaves 29 ms for each of its 6000 training faces; the
# 47 ms measured before the fused updates and the thread policy made the estimate 6.0 min
# against that run's 4.4); frozen conv1-3 in the same proportion as measured then (24 of
# 47 ms). An SR-FCN step of 8 patches 240 ms and a face's evaluation with its loading 12 ms
# (measured: 21 s for the SR-FCN's 80 steps, 4-7 s for each evaluation of 400 faces).
COST = dict(train=0.030, train_frozen=0.015, sr=0.030, forward=0.012)
NEAR_ZERO = 0.02        # CCC below this: the model predicts a near-constant value
# what the reason of a claim the demo cannot test adds: the demo's SR-FCN (80 iterations) does
# not beat bicubic (docs/reproduction.md, "Why Joint-OA did not learn in the demo")
LATER = "; only a budget long enough for the SR-FCN to beat bicubic tests this"


def demo_config(out="demo_out", device="cpu", all_methods=False, temporal=False):
    """The :class:`reproduction.pipeline.Config` the demo runs."""
    from .pipeline import Config
    methods = ALL_METHODS if all_methods else DEMO_METHODS
    return Config(out=out, sample=dict(DEMO_SAMPLE),
                  methods=methods + (R.OPTIONAL_METHODS if temporal else ()),
                  factors=DEMO_FACTORS, schedule=R.SCHEDULES["demo"], device=device,
                  sr_face_step=4, figure4=dict(DEMO_FIGURE4), seed=1,
                  temporal=dict(DEMO_TEMPORAL) if temporal else None)


def estimate_seconds(config, frames_per_seq=None):
    """Compute-time estimate of ``config``'s training and evaluation from :data:`COST`
    (sample generation, cropping and plotting not included)."""
    n = frames_per_seq or (config.sample or {}).get("n_frames", 300)
    n_dev = (config.sample or {}).get("n_dev", 3)
    recs = R.plan(config.methods, config.factors, config.schedule, config.mix)
    total = 0.0
    for r in recs:
        per = (COST["sr"] if r.method == "srfcn" else
               COST["train_frozen"] if r.method == "nonjoint" else COST["train"])
        total += r.max_iter * (r.batch_size or 128) * per
    dev_frames = n * n_dev
    total += len(R.evaluations(config.methods, config.factors)) * dev_frames * COST["forward"]
    f4 = config.figure4 or {}
    for s in f4.get("factors", ()):
        models = sum(1 for k in ("hr", f"lr-{s}", f"joint-{s}", "joint-oa")
                     if k in {r.key for r in recs})
        total += (len(f4.get("qps", ())) * models * dev_frames / f4.get("frame_step", 1)
                  * COST["forward"])
    return total


def _fmt(v):
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _monotone_down(values):
    return all(b <= a for a, b in zip(values, values[1:]))


def findings(ours, factors, figure4_rows=None, sr_stats=None):
    """Plain-language findings from our Table 1 cells ``ours`` ({(s, method): metrics}),
    the Figure 4 rows and the SR-FCN statistics; a list of lines."""
    from .table import paper_values
    paper = paper_values()
    lines = []

    def get(s, method, metric):
        m = ours.get((s, method))
        v = None if m is None else m.get(metric)
        return math.nan if v is None else float(v)
    hr_cc, hr_ccc = get(None, "HR", "cc_run_eval"), get(None, "HR", "ccc_run_eval")
    if not math.isnan(hr_cc):
        lines.append(f"HR (96x96): CC {_fmt(hr_cc)}, CCC {_fmt(hr_ccc)} (paper 0.430 / 0.325).")
    lr = [(s, get(s, f"LR-{s}", "cc_run_eval"), get(s, f"LR-{s}", "ccc_run_eval"))
          for s in factors if (s, f"LR-{s}") in ours]
    if lr:
        ccc = [c for _, _, c in lr]
        cc = [c for _, c, _ in lr]
        trend = "falls" if _monotone_down(ccc) else "does not fall monotonically"
        lines.append("LR-s CCC vs s: " + ", ".join(f"s={s}: {_fmt(c)}" for s, _, c in lr)
                     + f" -> CCC {trend} as s grows (CC: "
                     + ", ".join(f"{_fmt(c)}" for c in cc) + "); paper: "
                     + ", ".join(f"{paper[(s, f'LR-{s}')]['ccc']:.3f}" for s, _, _ in lr)
                     + ".")
        if not math.isnan(hr_ccc):
            lines.append(f"HR vs LR-{lr[0][0]}: CCC {_fmt(hr_ccc)} vs {_fmt(lr[0][2])} "
                         f"({hr_ccc - lr[0][2]:+.3f}; paper "
                         f"{0.325 - paper[(lr[0][0], f'LR-{lr[0][0]}')]['ccc']:+.3f}).")
    for method in ("Joint-OA", "Joint", "Non-Joint"):
        diffs = []
        for s in factors:
            name = method if method == "Joint-OA" else f"{method}-{s}"
            if (s, name) in ours and (s, f"LR-{s}") in ours:
                dcc = get(s, name, "cc_run_eval") - get(s, f"LR-{s}", "cc_run_eval")
                dccc = get(s, name, "ccc_run_eval") - get(s, f"LR-{s}", "ccc_run_eval")
                pc = paper[(s, name)]["ccc"] - paper[(s, f"LR-{s}")]["ccc"]
                diffs.append((s, dcc, dccc, pc))
        if not diffs:
            continue
        wins = sum(1 for _, _, d, _ in diffs if d > 0)
        label = method if method == "Joint-OA" else f"{method}-s"
        near_zero = [s for s in factors
                     if max(abs(get(s, f"LR-{s}", "ccc_run_eval")),
                            abs(get(s, method if method == "Joint-OA" else f"{method}-{s}",
                                    "ccc_run_eval"))) < NEAR_ZERO]
        lines.append(f"{label} - LR-s: " + "; ".join(
            f"s={s}: CC {dcc:+.3f}, CCC {dccc:+.3f} (paper CCC {pc:+.3f})"
            for s, dcc, dccc, pc in diffs)
            + f" -> beats LR-s in CCC at {wins} of {len(diffs)} factors"
            + (f" (at s={', '.join(map(str, near_zero))} both CCCs are below {NEAR_ZERO}: "
               "near-constant predictions, the sign of the difference means little)."
               if near_zero else "."))
    if sr_stats:
        for key, st in sr_stats.items():
            lines.append(f"{key} pre-training: loss {_fmt(st.get('loss_first'))} -> "
                         f"{_fmt(st.get('loss_last_10pct'))} (mean of the last 10% of "
                         f"iterations) in {st.get('iterations')} iterations.")
    if figure4_rows:
        for s in sorted({r["s"] for r in figure4_rows}):
            sub = [r for r in figure4_rows if r["s"] == s]
            bpp = sorted({(r["qp"], r["bpp"]) for r in sub})
            lines.append(f"Figure 4, s={s}: bits per luma pixel by QP: "
                         + ", ".join(f"QP {q}: {b:.3f}" for q, b in bpp) + ".")
            for label in dict.fromkeys(r["model"] for r in sub):
                pts = sorted((r["qp"], r["ccc"], r["cc"]) for r in sub if r["model"] == label)
                lines.append(f"  {label}: CCC " + ", ".join(f"{_fmt(c)}" for _, c, _ in pts)
                             + " (QP " + ", ".join(str(q) for q, _, _ in pts) + "); CC "
                             + ", ".join(f"{_fmt(c)}" for _, _, c in pts) + ".")
    return lines


def h5_commands(pipe, out_root="h5_again"):
    """The command that writes each HDF5 step's files again, bit for bit: prepare_h5_files on
    the step's crops, with the sequences, chunk, seed and mix its stamp records
    (``stamps/h5-*.json``; the demo's chunk is 16, not the script's 128). Each writes into
    ``<out_root>/<variant>``."""
    import shlex
    lines = []
    for name, st in pipe.steps.items():
        if not name.startswith("h5-"):
            continue
        p = st.params
        crops = pipe.outputs(st.deps[0])
        argv = ["python", "-m", "matlab_ports.prepare_h5_files", "--data", crops["dir"],
                "--out", f"{out_root}/{p['variant']}", "--train", ",".join(crops["train"]),
                "--test", ",".join(crops["dev"]), "--chunk", str(p["chunk"]),
                "--seed", str(p["seed"])]
        if p.get("mix"):
            argv += ["--mix", "--mix-lr", ",".join(map(str, p["mix"]))]
        lines.append(" ".join(shlex.quote(a) for a in argv))
    return lines


def earlier_steps_seconds(pipe):
    """{step: seconds} of the steps an earlier run finished (their stamps' times): a rerun
    skips them, and its summary still counts what they took."""
    return {name: float(pipe.stamp(name).get("seconds", 0.0)) for name in pipe.order()
            if pipe.is_done(name)}


def wall_time_text(seconds, earlier):
    """This run's wall time, and with ``earlier`` (:func:`earlier_steps_seconds`) what the
    earlier runs' steps took and the sum."""
    text = f"{seconds:.0f} s wall time"
    if earlier:
        before = sum(earlier.values())
        text += (f"; {len(earlier)} step(s) finished by earlier runs took {before:.0f} s there, "
                 f"{seconds + before:.0f} s in all")
    return text


def run_demo(out="demo_out", device="cpu", all_methods=False, progress=True, log=None,
             temporal=False):
    """Run the demo (module doc); prints the table, the findings and where the files are.
    Returns a dict with ``seconds``, ``table``, ``findings`` and ``files``."""
    from caffe_compat.io.atomic import write_text_atomic

    from . import rate_distortion as RD
    from .pipeline import Pipeline
    say = log or (lambda line: print(line, flush=True))
    t0 = time.perf_counter()
    cfg = demo_config(out, device, all_methods, temporal)
    say(f"demo: the bundled sample ({DEMO_SAMPLE['n_train']} train + {DEMO_SAMPLE['n_dev']} "
        f"dev sequences of {DEMO_SAMPLE['n_frames']} frames), methods "
        f"{', '.join(cfg.methods)}, s in {', '.join(map(str, cfg.factors))}; estimated "
        f"compute {estimate_seconds(cfg) / 60:.1f} min on 2 quiet CPU cores")
    pipe = Pipeline(cfg, progress=progress, log=say)
    earlier = earlier_steps_seconds(pipe)
    pipe.run()
    table = pipe.outputs("table")
    ours = {}
    for ev in pipe.evals:
        ours[tuple(ev.row)] = pipe.outputs(f"eval-{ev.name}")["metrics"]
    rows = RD.read_csv(pipe.outputs("figure4")["csv"]) if "figure4" in pipe.steps else None
    sr = {k: pipe.outputs(f"train-{k}") for k, r in pipe.recipes.items()
          if r.method == "srfcn"}
    found = findings(ours, cfg.factors, rows, sr)
    verdict = run_verdicts([pipe], later=LATER)
    if "grid" in pipe.steps:
        found += pipe.outputs("grid")["findings"]
    seconds = time.perf_counter() - t0
    with open(table["files"]["markdown"], encoding="utf-8") as fh:
        md = fh.read()
    files = dict(table_md=table["files"]["markdown"], table_csv=table["files"]["csv"],
                 table_png=table["files"]["png"], models=pipe.path("models"),
                 evaluations=pipe.path("work"))
    if "figure4" in pipe.steps:
        f4 = pipe.outputs("figure4")
        files.update(figure4_png=f4["png"], figure4_bpp_png=f4["bpp_png"],
                     figure4_csv=f4["csv"])
    if "grid" in pipe.steps:
        g = pipe.outputs("grid")
        files.update(grid_md=g["markdown"], grid_csv=g["csv"], grid_ccc_png=g["ccc_png"],
                     grid_cc_png=g["cc_png"])
    summary = ["# Demo summary", "", f"This run: {wall_time_text(seconds, earlier)} (steps "
               "finished earlier are skipped on a rerun).", "", "## Findings", ""]
    summary += [f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}"
                for line in found]
    summary += ["", "## The paper's claims", "", verdict.markdown()]
    summary += ["", "## Files", ""] + [f"- {k}: {v}" for k, v in files.items()]
    summary += ["", "## The HDF5 files again", "", "These commands write the same bits as the "
                "demo's HDF5 steps (into h5_again/):", ""]
    summary += [f"    {line}" for line in h5_commands(pipe)]
    summary_path = pipe.path("demo_summary.md")
    write_text_atomic(summary_path, "\n".join(summary) + "\n")
    write_text_atomic(pipe.path("demo_summary.json"),
                      json.dumps(dict(seconds=seconds, earlier_steps_seconds=earlier,
                                      findings=found,
                                      verdicts=verdict.to_dict(), files=files),
                                 indent=1) + "\n")
    say("")
    say(md)
    say("Findings:")
    for line in found:
        say(f"  {line}")
    say("")
    for line in verdict.lines():
        say(line)
    say("")
    say(f"Table 1:  {files['table_md']}  (CSV {files['table_csv']}, plot {files['table_png']})")
    if "figure4_png" in files:
        say(f"Figure 4: {files['figure4_png']}  (bit rate {files['figure4_bpp_png']}, CSV "
            f"{files['figure4_csv']})")
    if "grid_md" in files:
        with open(files["grid_md"], encoding="utf-8") as fh:
            say(fh.read())
        say(f"Grid:     {files['grid_md']}  (heat maps {files['grid_ccc_png']}, "
            f"{files['grid_cc_png']}; CSV {files['grid_csv']})")
    say(f"Models and training curves: {files['models']}/; per-model evaluation figures: "
        f"{files['evaluations']}/eval-*/figures/")
    say(f"Summary: {summary_path}")
    say(f"demo: {wall_time_text(seconds, earlier)}")
    return dict(seconds=seconds, table=md, findings=found, files=files,
                verdicts=verdict.verdicts)
