"""How much of the valence cue survives downsampling by s: a linear probe on the face pixels.

A claim about super-resolution features is testable on a sample only if (a) the valence cue
lives partly at scales that downsampling by s removes (otherwise LR-s loses nothing and there
is nothing to restore) and (b) an SR-FCN trained on the sample restores some of those scales
(:mod:`reproduction.sr_gain`). This module measures (a) without training a CNN: a ridge
regression from the 96x96 pixels of the training faces to their valence, fitted once per test
condition on faces of that condition (HR, or LR-s: ``imresize(imresize(face, 1/s), [96 96])``,
the crops the LR-s models see), and scored by run_eval's CCC on the development faces, with a
bootstrap interval over the same units as the verdicts. The probe sees the frames as
independent and the face boxes as aligned; its CCC is a floor on what the pixels carry, not an
estimate of a CNN's, and what matters is how it changes with s: the difference
``CCC(HR) - CCC(LR-s)`` is the part of the linearly readable cue that downsampling by s
removes.

The ridge is solved in its dual form (``K = X X^T``, a few hundred faces), centred, with the
penalty ``RIDGE`` times the mean diagonal of K, fixed before looking at any result (no search
over it: a tuned probe would be fitted to the dev set).
"""
from __future__ import annotations

import os

import numpy as np

from . import claims as C, statistics as S

__all__ = ["RIDGE", "probe_predictions", "survival"]

RIDGE = 0.1


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


def survival(crops, train, dev, units, resampler, step=1):
    """``{condition: Interval}`` of the probe's dev CCC per condition and ``{condition:
    Interval}`` of ``CCC(HR) - CCC(condition)``. ``crops``: ``{condition: crops folder}`` with
    an ``"HR"`` entry; ``units``: :class:`reproduction.claims.Units` of the dev frames."""
    cells = {}
    for cond, folder in crops.items():
        xt, yt, _, _ = _faces(folder, train, step)
        xd, yd, seqs, frames = _faces(folder, dev, 1)
        pred = probe_predictions(xt, yt, xd)
        cells[cond] = C.Scores(f"probe-{cond}", yd, pred[None], units.of(seqs, frames))
    level = {c: resampler.interval(C.ccc_statistic(s, resampler.units))
             for c, s in cells.items()}
    lost = {c: C._difference(resampler, cells["HR"], s) for c, s in cells.items() if c != "HR"}
    return level, lost
