"""The metrics of ``run_eval.m``, and the textbook ones beside them
(:mod:`matlab_ports.run_eval`'s docstring gives each formula): ``rmse``, ``cc_run_eval`` and
``ccc_run_eval`` with the script's MATLAB mean / std / var (N-1), ``pearson_r`` and the AVEC
challenge's ``ccc_avec`` (population moments)."""
from __future__ import annotations

import math

import numpy as np

from .errors import PortError

METRIC_LABELS = {
    "rmse": "RMSE",
    "cc_run_eval": "CC as run_eval.m computes it: mean of products (normalised by N) over "
                   "the product of two N-1 standard deviations",
    "ccc_run_eval": "CCC as run_eval.m computes it: 2*CC*std*std/(var+var+(mean-mean)^2), "
                    "N-1 var",
    "pearson_r": "textbook Pearson correlation coefficient",
    "ccc_avec": "AVEC concordance correlation coefficient (population covariance and "
                "variances)",
}
METRICS = tuple(METRIC_LABELS)


def script_metrics(ground_truth, prediction):
    """RMSE, CC, CCC with run_eval.m's formulas (MATLAB mean/std/var; N-1 normalisation)."""
    from .mfuncs import mean, std, var
    g = np.asarray(ground_truth, dtype=np.float64).ravel()
    p = np.asarray(prediction, dtype=np.float64).ravel()
    if g.shape != p.shape:
        raise PortError(f"metrics: {g.size} ground-truth values but {p.size} predictions")
    if g.size == 0:
        return dict.fromkeys(("rmse", "cc_run_eval", "ccc_run_eval"), math.nan)
    with np.errstate(all="ignore"):
        rmse = math.sqrt(float(np.sum((p - g) ** 2)) / g.size)
        sg, sp = float(std(g)), float(std(p))
        mg, mp = float(mean(g)), float(mean(p))
        cc = float(mean((g - mg) * (p - mp))) / (sg * sp) if sg * sp else math.nan
        den = float(var(g)) + float(var(p)) + (mg - mp) ** 2
        ccc = 2 * cc * sg * sp / den if den else math.nan
    return {"rmse": rmse, "cc_run_eval": cc, "ccc_run_eval": ccc}


def textbook_metrics(ground_truth, prediction):
    """Pearson r and the AVEC CCC (population covariance and variances)."""
    g = np.asarray(ground_truth, dtype=np.float64).ravel()
    p = np.asarray(prediction, dtype=np.float64).ravel()
    if g.size == 0:
        return {"pearson_r": math.nan, "ccc_avec": math.nan}
    dg, dp = g - g.mean(), p - p.mean()
    sgg, spp, sgp = float(np.sum(dg * dg)), float(np.sum(dp * dp)), float(np.sum(dg * dp))
    with np.errstate(all="ignore"):
        r = sgp / math.sqrt(sgg * spp) if sgg * spp > 0 else math.nan
        n = g.size
        den = sgg / n + spp / n + (float(g.mean()) - float(p.mean())) ** 2
        ccc = 2 * (sgp / n) / den if den > 0 else math.nan
    return {"pearson_r": r, "ccc_avec": ccc}


def all_metrics(ground_truth, prediction):
    """Every metric of :data:`METRIC_LABELS`, keyed by name."""
    out = script_metrics(ground_truth, prediction)
    out.update(textbook_metrics(ground_truth, prediction))
    return out
