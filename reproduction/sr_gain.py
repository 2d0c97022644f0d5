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
    """Per-frame PSNR (dB) of the SR-FCN's output and of the bicubic input, and each frame's
    bootstrap unit."""
    factor: int
    psnr_sr: np.ndarray
    psnr_bicubic: np.ndarray
    unit: np.ndarray

    @property
    def gain(self):
        return self.psnr_sr - self.psnr_bicubic

    def summary(self):
        return dict(factor=self.factor, frames=int(self.gain.size),
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
    """The mean PSNR gain (dB) with its bootstrap interval over ``resampler``'s units."""
    g = gain.gain
    ok = np.isfinite(g)
    total = np.bincount(gain.unit[ok], g[ok], minlength=resampler.units)
    count = np.bincount(gain.unit[ok], minlength=resampler.units).astype(np.float64)

    def statistic(drawn, seeds):
        n = count[drawn].sum()
        return float(total[drawn].sum() / n) if n else math.nan

    def batch(unit_draws, seed_draws):
        counts = S.unit_counts(unit_draws, resampler.units)
        n = counts @ count
        with np.errstate(all="ignore"):
            return np.where(n > 0, (counts @ total) / n, np.nan)
    statistic.batch = batch
    return resampler.interval(statistic)
