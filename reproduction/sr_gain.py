"""Does the SR-FCN beat bicubic interpolation? Its PSNR gain on held-out faces, with an interval.

The faces are the development sequences' crops, which no SR-FCN trains on (its patches come
from the training faces or the 91 images). For each dev frame the input is the LR-s crop, i.e.
``imresize(imresize(face, 1/s), [96 96])`` (bicubic, as prepare_dataset.m and generate_train.m
degrade), and the label the HR crop. The SR-FCN's four valid 5x5 convolutions return the
central 80x80 pixels; the bicubic input is scored on the same 80x80, so both PSNRs compare the
same pixels. PSNR = ``10 log10(1 / MSE)`` (crops are luma / 255, peak 1), per frame, as SRCNN's
evaluation scores each image; the gain is the mean over frames of ``PSNR(SR) - PSNR(bicubic)``
(dB), bootstrapped over the same units as the verdicts (:class:`reproduction.claims.Units`).
Frames are fed transposed, as matcaffe hands ``video(:,:,n)`` to the net (the patches it
trained on were stored and read the same way); PSNR does not depend on the orientation.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from . import statistics as S

__all__ = ["SRGain", "frame_psnr", "measure", "gain_interval"]

BORDER = 8          # (5 - 1) / 2 pixels lost on each side by each of four valid 5x5 convolutions


@dataclass
class SRGain:
    """Per-frame PSNR (dB) of the SR-FCN's output (``(seeds, N)``: one SR-FCN per seed, or
    ``(N,)``) and of the bicubic input ``(N,)``, and each frame's bootstrap unit."""
    factor: int
    psnr_sr: np.ndarray
    psnr_bicubic: np.ndarray
    unit: np.ndarray

    @property
    def gain(self):
        return np.atleast_2d(self.psnr_sr) - self.psnr_bicubic

    @classmethod
    def stack(cls, gains):
        """One :class:`SRGain` of several seeds' SR-FCNs measured on the same frames."""
        return cls(gains[0].factor, np.stack([np.atleast_2d(g.psnr_sr)[0] for g in gains]),
                   gains[0].psnr_bicubic, gains[0].unit)

    def summary(self):
        return dict(factor=self.factor, frames=int(self.unit.size),
                    seeds=int(np.atleast_2d(self.psnr_sr).shape[0]),
                    psnr_sr=float(np.mean(self.psnr_sr)),
                    psnr_bicubic=float(np.mean(self.psnr_bicubic)),
                    gain=float(np.mean(self.gain)))


def frame_psnr(estimate, label):
    """PSNR (dB, peak 1) of each of ``(N, H, W)`` estimates against labels of that shape."""
    d = np.asarray(estimate, np.float64) - np.asarray(label, np.float64)
    mse = np.mean(d * d, axis=(1, 2))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(1.0 / mse)


def measure(weights, deploy, hr_dir, lr_dir, sequences, factor, units, frame_step=1,
            device="cpu", batch=64):
    """:class:`SRGain` of the SR-FCN ``weights`` (deploy prototxt ``deploy``) on the crops
    ``<hr_dir>/<seq>.mat`` (labels) and ``<lr_dir>/<seq>.mat`` (inputs, degraded by
    ``factor``), every ``frame_step``-th frame; ``units``: a :class:`~reproduction.claims.Units`."""
    import torch

    from lq_models import load_net
    from matlab_ports.matfile import loadmat
    from matlab_ports.run_eval import video_to_blob
    net = load_net(weights, model=deploy, input_size=(96, 96)).to(device)
    out_name = net.outputs[0]
    sr, bic, unit = [], [], []
    for name in sequences:
        hr = np.asarray(loadmat(os.path.join(hr_dir, name + ".mat"))["video"], np.float32)
        lr = np.asarray(loadmat(os.path.join(lr_dir, name + ".mat"))["video"], np.float32)
        if hr.ndim == 2:
            hr, lr = hr[:, :, None], lr[:, :, None]
        keep = np.arange(0, hr.shape[2], frame_step)
        label = video_to_blob(hr[:, :, keep])[:, 0, BORDER:-BORDER, BORDER:-BORDER]
        inputs = video_to_blob(lr[:, :, keep])
        bic.append(frame_psnr(inputs[:, 0, BORDER:-BORDER, BORDER:-BORDER], label))
        outs = []
        with torch.no_grad():
            for a in range(0, keep.size, batch):
                x = torch.from_numpy(inputs[a:a + batch]).to(device)
                outs.append(net.forward(data=x)[out_name][:, 0].double().cpu().numpy())
        y = np.concatenate(outs)
        if y.shape[1:] != label.shape[1:]:
            raise ValueError(f"{weights}: the SR-FCN returns {y.shape[1]}x{y.shape[2]} for a "
                             f"96x96 face, expected {label.shape[1]}x{label.shape[2]} (four "
                             "valid 5x5 convolutions)")
        sr.append(frame_psnr(y, label))
        unit.append(units.of([name] * keep.size, keep))
    return SRGain(int(factor), np.concatenate(sr), np.concatenate(bic), np.concatenate(unit))


def gain_interval(gain: SRGain, resampler):
    """The mean PSNR gain (dB) with its bootstrap interval over ``resampler``'s units (and the
    seeds' SR-FCNs, drawn under the key ``srfcn-<s>``, when there are several)."""
    g = gain.gain                                           # (seeds, N)
    ok = np.isfinite(g)
    total = np.stack([np.bincount(gain.unit, np.where(ok[k], g[k], 0.0),
                                  minlength=resampler.units) for k in range(g.shape[0])])
    count = np.stack([np.bincount(gain.unit, ok[k].astype(np.float64),
                                  minlength=resampler.units) for k in range(g.shape[0])])
    seeds = g.shape[0] if g.shape[0] > 1 else None

    def statistic(drawn, seed_idx):
        pick = slice(None) if seed_idx is None else seed_idx
        n = count[pick][:, drawn].sum(axis=1)
        with np.errstate(all="ignore"):
            return float(np.mean(total[pick][:, drawn].sum(axis=1) / n))

    def batch(unit_draws, seed_draws):
        counts = S.unit_counts(unit_draws, resampler.units)        # (R, U)
        with np.errstate(all="ignore"):
            per_seed = (counts @ total.T) / (counts @ count.T)      # (R, seeds)
        if seed_draws is not None:
            per_seed = np.take_along_axis(per_seed, seed_draws, axis=1)
        return per_seed.mean(axis=1)
    statistic.batch = batch
    return resampler.interval(statistic, seeds, f"srfcn-{gain.factor}")
