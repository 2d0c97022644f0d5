"""``demo --budget long``: the demo's sample trained long enough to test more of the paper's
claims, with several seeds, intervals on every Table 1 cell and a verdict per claim.

    python -m reproduction demo --budget long [--out demo_long]

What it runs, per seed (:data:`LONG_SEEDS`, each in ``<out>/seed-<k>``): every method of Table
1 (HR, LR-s, Non-Joint-s, Joint-s, Joint-OA and the SR-FCNs they start from) at s in
:data:`LONG_FACTORS` with the ``long`` schedule (:data:`reproduction.recipes.SCHEDULES`),
evaluation and the Figure 4 study at s = 6. The first seed generates the sample; the others
read it (``--avec <out>/seed-1/sample``), so every seed sees the same faces and the same dev
frames, and differences are paired over units. Each seed's pipeline resumes on a rerun
(finished steps skipped, an interrupted training from its last snapshot).

Factors 6 and 12, not 3: measured with the HOG probe (:mod:`reproduction.cue_survival`) on this
sample, downsampling by 3 removes none of the valence cue (CCC(HR) - CCC(LR-3) = -0.015
[-0.033, 0.006]) while 6 and 12 remove part of it (0.078 [0.038, 0.125] and 0.299 [0.217,
0.395]): only there is there something for super-resolution features to help with. The default
demo keeps s = 3.

Budget. Measured on a fresh clone on a quiet 2-core AMD EPYC (Zen 3, AVX2): 56 min 42 s wall
time for the three seeds (docs/reproduction.md, "demo --budget long"); the demo's cost model
(:func:`estimate`, :data:`reproduction.demo.COST`) says about 50 minutes, its CNN+D iterations
being about a third dearer than the model's per-face cost on that machine. The SR-FCN trains
with Caffe's Adam at base_lr 1e-4 (the ``long`` schedule in :mod:`reproduction.recipes`, and
why). It writes ``<out>/long_summary.md`` / ``.json`` (Table 1's CCC cells with intervals over
units and seeds, the SR-FCN's PSNR gain over bicubic with its interval, a verdict per claim),
and ``<out>/loss_curves.png`` (every model's training loss, one line per seed).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np

from . import recipes as R

__all__ = ["LONG_SEEDS", "LONG_FACTORS", "long_configs", "estimate", "run_long",
           "plot_loss_curves"]

LONG_SEEDS = (1, 2, 3)
LONG_FACTORS = (6, 12)


def long_configs(out, device="cpu", seeds=LONG_SEEDS, schedule=None, sample=None):
    """One :class:`reproduction.pipeline.Config` per seed (module doc); ``schedule`` and
    ``sample`` (make_sample's arguments) replace the long schedule and the demo's sample."""
    from . import demo as D
    from .pipeline import Config
    schedule = schedule or R.SCHEDULES["long"]
    first = Config(out=os.path.join(out, f"seed-{seeds[0]}"), sample=dict(sample or D.DEMO_SAMPLE),
                   methods=D.ALL_METHODS, factors=LONG_FACTORS, schedule=schedule,
                   device=device, sr_face_step=4,
                   figure4=dict(D.DEMO_FIGURE4, factors=[LONG_FACTORS[0]]), seed=seeds[0])
    sample = os.path.join(os.path.abspath(first.out), "sample")
    return [first] + [dataclasses.replace(first, out=os.path.join(out, f"seed-{k}"),
                                          sample=None, avec=sample, seed=k)
                      for k in seeds[1:]]


def estimate(configs):
    """Compute seconds of all seeds by the demo's cost model."""
    from .demo import estimate_seconds
    return sum(estimate_seconds(dataclasses.replace(c, sample=configs[0].sample))
               for c in configs)


def plot_loss_curves(pipes, path):
    """Every trained model's loss against iteration, one line per seed (a running mean of a
    twentieth of the run), a panel per model."""
    import io
    import math

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from caffe_compat.io.atomic import write_bytes_atomic
    keys = list(pipes[0].recipes)
    cols = 3
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(4 * cols, 2.6 * rows), dpi=90)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        for p in pipes:
            csv_path = p.path("models", key + "_loss.csv")
            if not os.path.isfile(csv_path):
                continue
            data = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2)
            k = max(1, len(data) // 20)
            smooth = np.convolve(data[:, 1], np.ones(k) / k, mode="valid")
            ax.plot(data[k - 1:, 0], smooth, label=f"seed {p.config.seed}")
        ax.set_title(key, fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("iteration", fontsize=8)
        if i % cols == 0:
            ax.set_ylabel("training loss", fontsize=8)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())
    return path


def run_long(out="demo_long", device="cpu", progress=True, log=None, seeds=LONG_SEEDS,
             schedule=None, sample=None, resamples=None):
    """Run the long budget (module doc); returns a dict with ``seconds``, ``verdicts`` (a
    :class:`reproduction.verdicts.RunVerdicts`) and ``files``."""
    from caffe_compat.io.atomic import write_text_atomic

    from .pipeline import Pipeline
    from .verdicts import run_verdicts
    say = log or (lambda line: print(line, flush=True))
    t0 = time.perf_counter()
    configs = long_configs(out, device, seeds, schedule, sample)
    trainings = len(R.plan(configs[0].methods, configs[0].factors, configs[0].schedule))
    say(f"demo --budget long: {len(configs)} seeds x {trainings} trainings at s in "
        f"{', '.join(map(str, LONG_FACTORS))}; estimated compute "
        f"{estimate(configs) / 60:.0f} min on 2 quiet CPU cores")
    from .demo import earlier_steps_seconds, wall_time_text
    pipes, earlier = [], {}
    for cfg in configs:
        say(f"seed {cfg.seed}: {cfg.out}")
        pipe = Pipeline(cfg, progress=progress, log=say)
        earlier.update({f"seed {cfg.seed} {k}": v for k, v in earlier_steps_seconds(pipe).items()})
        pipe.run()
        pipes.append(pipe)
    verdict = run_verdicts(pipes, sr_frame_step=4, **({} if resamples is None else
                                                      dict(resamples=resamples)))
    curves = plot_loss_curves(pipes, os.path.join(out, "loss_curves.png"))
    seconds = time.perf_counter() - t0
    files = dict(loss_curves=curves, seeds=[p.out for p in pipes],
                 summary=os.path.join(out, "long_summary.md"))
    summary = ["# Long budget summary", "",
               f"This run: {wall_time_text(seconds, earlier)} (steps finished earlier are "
               "skipped on a rerun).", "", "## The paper's claims", "", verdict.markdown(), "",
               "## Files", ""] + [f"- {k}: {v}" for k, v in files.items()]
    write_text_atomic(files["summary"], "\n".join(summary) + "\n")
    write_text_atomic(os.path.join(out, "long_summary.json"),
                      json.dumps(dict(seconds=seconds, verdicts=verdict.to_dict(),
                                      files=files), indent=1) + "\n")
    say("")
    say(verdict.table())
    say("")
    for line in verdict.lines():
        say(line)
    say(f"Loss curves: {curves}; summary: {files['summary']}")
    say(f"demo --budget long: {wall_time_text(seconds, earlier)}")
    return dict(seconds=seconds, verdicts=verdict, files=files)
