"""The verdicts of a finished run (or of one run per seed): its Table 1 cells, Figure 4 rows and
SR-FCN gathered as per-frame predictions, and :mod:`reproduction.claims` applied to them.

    verdict = run_verdicts([pipeline])          # a Pipeline whose steps have finished
    print(statistics.format_verdicts(verdict.verdicts, "The paper's claims on this run"))

Several pipelines are several seeds of one configuration (the same sample and dev frames, a
different ``seed``): each cell then holds one prediction per seed and its interval draws
seeds as well as units.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import claims as C, statistics as S

__all__ = ["RunVerdicts", "run_verdicts", "SR_FRAME_STEP"]

# the SR-FCN costs about 8 GFLOP per 96x96 face (its 5x5 convolutions of 64-128-256 channels at
# every pixel): every 8th dev frame keeps the measurement to seconds in the demo
SR_FRAME_STEP = 8


@dataclass
class RunVerdicts:
    """The verdicts with what decided them: the units, the SR-FCN's PSNR gain (per-frame
    means and the interval) and the number of seeds."""
    verdicts: list
    units: str
    seeds: int
    sr_gain: dict = field(default_factory=dict)
    sr_intervals: dict = field(default_factory=dict)
    cells: dict = field(default_factory=dict)

    def table(self):
        """Table 1's CCC cells with their intervals beside the paper's (Markdown)."""
        from .table import paper_values
        paper = paper_values()
        rows = ["| s | method | CCC paper | CCC ours [95 % interval] |", "|---|---|---:|---|"]
        for (s, method), iv in self.cells.items():
            p = paper.get((s, method), {}).get("ccc")
            rows.append(f"| {'-' if s is None else s} | {method} | "
                        f"{'—' if p is None else f'{p:.3f}'} | {iv.format()} |")
        return "\n".join(rows)

    def lines(self, title="The paper's claims on this run"):
        head = [f"{title} (95 % bootstrap intervals over {self.units}; "
                f"{self.seeds} seed{'s' if self.seeds > 1 else ''} per model):"]
        return head + [f"  {line}" for line in self.sr_lines()] + \
            [f"  {v.line()}" for v in self.verdicts]

    def sr_lines(self):
        """One line per SR-FCN: its PSNR and bicubic's on held-out faces, the gain's interval."""
        return [f"SR-FCN at s={s} on {g['frames']} held-out dev faces: PSNR {g['psnr_sr']:.2f} "
                f"dB against bicubic {g['psnr_bicubic']:.2f} dB, gain "
                f"{self.sr_intervals[s].format(2)} dB" for s, g in self.sr_gain.items()]

    def markdown(self):
        out = [self.lines()[0].rstrip(":") + ".", ""]
        out += [f"- {line}." for line in self.sr_lines()] + ([""] if self.sr_gain else [])
        if self.cells:
            out += [self.table(), ""]
        return "\n".join(out + [S.verdicts_markdown(self.verdicts)])

    def to_dict(self):
        return dict(units=self.units, seeds=self.seeds, sr_gain=self.sr_gain,
                    cells=[dict(s=k[0], method=k[1], ccc=v.to_dict())
                           for k, v in self.cells.items()],
                    sr_intervals={s: iv.to_dict() for s, iv in self.sr_intervals.items()},
                    verdicts=[v.to_dict() for v in self.verdicts])


def _eval_file(pipe, ev):
    return os.path.join(pipe.outputs(f"eval-{ev.name}")["dir"], "predictions.csv")


def run_verdicts(pipes, later="", resamples=S.RESAMPLES, sr_frame_step=SR_FRAME_STEP):
    """:class:`RunVerdicts` of finished pipelines ``pipes`` (one per seed, same dev frames).
    ``later``: appended to the reason of every claim this run cannot test; ``sr_frame_step``:
    every how many dev frames the SR-FCN's PSNR gain is measured on."""
    from . import rate_distortion as RD, sr_gain as G
    first = pipes[0]
    evals = first.evals
    if not evals:
        raise ValueError("no evaluation in this run: nothing to test")
    units = C.Units(C.lengths_from_predictions(_eval_file(first, evals[0])))
    resampler = S.Resampler(units.count, resamples=resamples, unit=units.kind)
    cells = {tuple(ev.row): C.scores_from_files(ev.key, [_eval_file(p, ev) for p in pipes],
                                                units) for ev in evals}
    sr_info, sr_iv = {}, {}
    hr = first.outputs("crops-hr")
    for rec in (r for r in first.recipes.values() if r.method == "srfcn"):
        s = rec.data[1]
        crops = f"crops-lr-{s}"
        if crops not in first.steps or not first.is_done(crops):
            continue
        gain = G.SRGain.stack([G.measure(
            p.outputs(f"train-{rec.key}")["weights"], rec.deploy, hr["dir"],
            first.outputs(crops)["dir"], hr["dev"], s, units, sr_frame_step,
            first.config.device) for p in pipes])
        sr_info[s], sr_iv[s] = gain.summary(), G.gain_interval(gain, resampler)
    verdicts = C.table_verdicts(cells, first.config.factors, resampler, sr_iv, later,
                                max(first.config.mix))
    intervals = {row: resampler.interval(C.ccc_statistic(sc, units.count),
                                         C.seeds_of(sc), sc.key) for row, sc in cells.items()}
    f4 = {}
    bpp = {}
    for name in first.steps:
        if not name.startswith("figure4-s") or not first.is_done(name):
            continue
        per_seed = [p.outputs(name).get("predictions") for p in pipes]
        if any(path is None or not os.path.isfile(path) for path in per_seed):
            continue
        loaded = [RD.read_predictions(path) for path in per_seed]
        for key, (seqs, frames, gt, _) in loaded[0].items():
            preds = np.stack([d[key][3] for d in loaded])
            f4[key] = C.Scores(first.figure4_models(key[0])[key[2]], gt, preds,
                               units.of(seqs, frames))
        for row in first.outputs(name)["rows"]:
            bpp[(row["s"], row["qp"])] = float(row["bpp"])
    if f4:
        verdicts += C.figure4_verdicts(f4, resampler, bpp)
    elif first.config.figure4:
        verdicts.append(S.not_testable("Figure 4: CCC falls with the bit rate",
                                       "the Figure 4 step kept no per-frame predictions "
                                       "(a run from before they were kept: rerun figure4)"))
    else:
        verdicts.append(S.not_testable("Figure 4: CCC falls with the bit rate",
                                       "no Figure 4 study in this run"))
    return RunVerdicts(verdicts, units.describe(), len(pipes), sr_info, sr_iv, intervals)
