"""Figure 4 of the paper: valence CC and CCC of compressed low-resolution video against the
H.264 quantisation parameter (QP), for models trained without compression.

For a factor s (the paper: 3 and 4) and every development sequence:

1. the sequence's 96x96 HR face crops (``video``, MATLAB orientation) are downsampled as the LR
   pipeline does it, ``imresize(single(face), 1/s, 'bicubic')``: frames of 96/s x 96/s pixels;
2. these frames, rounded to 8 bits (``round(255 * v)``, clipped to 0..255: the crops are
   ``Y / 255`` of the video's luma), are the luma plane of a 4:2:0 picture whose chroma is a
   constant 128 (grey), and the sequence is encoded at a fixed QP by x264 (libx264 through
   PyAV): constant quantiser (``qp=N``: P frames at N, I frames at N - 3 as x264's default
   ``ipratio`` 1.4 sets them; adaptive quantisation is off in this mode), no B frames and no
   macroblock tree (``bframes=0:mbtree=0``), one thread, ``preset`` medium: the output is the
   same bytes on every run;
3. the packets are decoded (FFmpeg's H.264 decoder), the luma planes divided by 255 and brought
   back to 96x96 as the LR pipeline does (``imresize(frame, [96 96], 'bicubic')``);
4. each model (HR, LR-s, Joint-s, Joint-OA; no retraining) predicts the valence of every
   ``frame_step``-th frame, and RMSE, CC and CCC are computed on the concatenation of the
   sequences (run_eval.m's formulas, with the textbook Pearson r and AVEC CCC beside them).

Bits per pixel: ``8 * (sum of the encoded packets' sizes) / (frames * (96/s)^2)``, i.e. per
*luma pixel of the low-resolution frames* (chroma pixels are not counted); the packets are the
H.264 Annex B byte stream as libx264 returns it, so start codes, the in-band SPS/PPS and the
one SEI message in which x264 records its version and settings (about 0.6 kB per sequence)
are counted, and no container (MP4) overhead is. ``bpp_vcl`` counts only the slice NAL units
(coded picture data, without start codes or headers); ``psnr_lr`` is the PSNR of the decoded
low-resolution luma against the 8-bit frames that were encoded.

Why PyAV rather than the ``ffmpeg`` binary of imageio-ffmpeg: the encoder runs in-process (no
subprocess, no pipes, no temporary files), the size of every encoded packet is available
directly rather than parsed back from a container, and decoding hands back exactly the frames
that were encoded, one per packet, with no frame-rate conversion or timestamp guessing in
between.

Writes ``figure4.csv`` (one row per s, QP and model) and ``figure4.png`` (CC and CCC against
QP per s, with the bit rate on a secondary axis) and ``figure4_bpp.png``.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = ["DEFAULT_QPS", "PAPER_FACTORS", "X264_PARAMS", "PRESET", "RDError", "Encoded",
           "downsample", "quantise", "encode_decode", "upsample", "nal_units", "study",
           "write_csv", "write_predictions", "read_predictions", "plot",
           "CSV_COLUMNS"]

DEFAULT_QPS = (12, 18, 24, 30, 36, 42, 48)
PAPER_FACTORS = (3, 4)
X264_PARAMS = "bframes=0:mbtree=0"
PRESET = "medium"
CSV_COLUMNS = ("s", "qp", "model", "frames", "frames_evaluated", "lr_size", "bytes",
               "vcl_bytes", "luma_pixels", "bpp", "bpp_vcl", "psnr_lr", "rmse", "cc", "ccc",
               "pearson_r", "ccc_avec")


class RDError(ValueError):
    """Bad input to the rate-distortion study (factor, QP, frames)."""


@dataclass
class Encoded:
    """One sequence at one QP: the decoded 8-bit luma frames (N, h, w) and the packet sizes."""
    qp: int
    frames: np.ndarray
    packet_bytes: list
    vcl_bytes: int

    @property
    def bytes(self):
        return int(sum(self.packet_bytes))


def downsample(video, s):
    """``imresize(single(video), 1/s, 'bicubic')`` of an H x W x N video (MATLAB orientation):
    the low-resolution frames of the LR pipeline, float32."""
    from matlab_ports.imresize import imresize
    v = np.asarray(video, dtype=np.float32)
    if v.ndim == 2:
        v = v[:, :, None]
    if v.ndim != 3:
        raise RDError(f"video: expected H x W x N frames, got shape {v.shape}")
    return _as3(imresize(v, scale=1.0 / float(s), method="bicubic"), v.shape[2])


def _as3(a, n):
    a = np.asarray(a)
    return a[:, :, None] if a.ndim == 2 else a.reshape(a.shape[0], a.shape[1], n)


def upsample(frames, size=96):
    """``imresize(frame, [size size], 'bicubic')`` of h x w x N float32 frames."""
    from matlab_ports.imresize import imresize
    v = np.asarray(frames, dtype=np.float32)
    return _as3(imresize(v, output_size=(size, size), method="bicubic"), v.shape[2])


def quantise(frames):
    """h x w x N values in [0, 1] -> N x h x w uint8 luma, ``round(255 * v)`` clipped."""
    v = np.asarray(frames, dtype=np.float64) * 255.0
    q = np.floor(np.clip(v, 0.0, 255.0) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(q.transpose(2, 0, 1))


def nal_units(data):
    """``[(nal_unit_type, payload bytes)]`` of an Annex B byte string."""
    out = []
    starts = []
    i, n = 0, len(data)
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, a in enumerate(starts):
        b = starts[k + 1] - 3 if k + 1 < len(starts) else n
        # a 4-byte start code leaves its leading zero at the end of the previous unit
        if k + 1 < len(starts) and b > a and data[b - 1] == 0:
            b -= 1
        if a < n:
            out.append((data[a] & 0x1F, b - a))
    return out


def _check_qp(qp):
    if isinstance(qp, bool) or not isinstance(qp, (int, np.integer)) or not 0 <= qp <= 51:
        raise RDError(f"QP: expected an integer in 0..51 (H.264), got {qp!r}")
    return int(qp)


def encode_decode(frames_u8, qp, fps=25, preset=PRESET):
    """Encode N x h x w uint8 luma frames with x264 at fixed ``qp`` and decode them back;
    returns :class:`Encoded`. Grey chroma (128). ``h`` and ``w`` must be even (4:2:0)."""
    import av
    qp = _check_qp(qp)
    f = np.asarray(frames_u8)
    if f.dtype != np.uint8 or f.ndim != 3 or f.shape[0] == 0:
        raise RDError(f"frames: expected N x h x w uint8 with N >= 1, got {f.dtype} {f.shape}")
    n, h, w = f.shape
    if h % 2 or w % 2 or h < 2 or w < 2:
        raise RDError(f"frames: {h} x {w} pixels; 4:2:0 H.264 needs even sizes")
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = Fraction(1, int(fps))
    enc.framerate = Fraction(int(fps))
    enc.thread_count = 1
    enc.options = {"qp": str(qp), "preset": preset, "threads": "1",
                   "x264-params": X264_PARAMS}
    plane = np.full((h + h // 2, w), 128, np.uint8)
    packets = []
    for i in range(n):
        plane[:h] = f[i]
        frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
        frame.pts = i
        packets.extend(enc.encode(frame))
    packets.extend(enc.encode(None))
    dec = av.CodecContext.create("h264", "r")
    decoded = []
    sizes, vcl = [], 0
    for p in packets:
        data = bytes(p)
        sizes.append(len(data))
        vcl += sum(size for typ, size in nal_units(data) if 1 <= typ <= 5)
        decoded.extend(dec.decode(p))
    decoded.extend(dec.decode(None))
    if len(decoded) != n:
        raise RDError(f"x264 at QP {qp}: {n} frames encoded but {len(decoded)} decoded")
    out = np.empty((n, h, w), np.uint8)
    for i, fr in enumerate(decoded):
        out[i] = fr.to_ndarray()[:h, :w]
    return Encoded(qp, out, sizes, int(vcl))


@dataclass
class _Acc:
    gt: list = field(default_factory=list)
    pred: list = field(default_factory=list)


def study(sequences, models, factors=PAPER_FACTORS, qps=DEFAULT_QPS, frame_step=1, fps=25,
          preset=PRESET, predict=None, progress=True, predictions=None):
    """Run the study; returns a list of row dicts (:data:`CSV_COLUMNS`).

    ``sequences``: ``[(name, video, valence)]`` with ``video`` the 96x96xN HR crops and
    ``valence`` (N,); ``models``: ``{label: net}`` (test-phase CNN+D nets) or ``{s: {label:
    net}}`` per factor; ``predict(net, video96) -> (N,)`` runs a net on 96x96xN frames (default:
    :func:`reproduction.frames.predict_frames`). ``predictions``: a dict to fill with
    ``{(s, qp, label): (sequences, frames, ground_truth, prediction)}``, one entry per
    evaluated frame (0-based crop indices), for intervals over units
    (:mod:`reproduction.claims`).
    """
    from tqdm import tqdm

    from matlab_ports.run_eval import all_metrics
    if predict is None:
        from .frames import predict_frames as predict
    factors = [int(s) for s in factors]
    qps = [_check_qp(q) for q in qps]
    if not factors or not qps:
        raise RDError("expected at least one factor and one QP")
    if isinstance(frame_step, bool) or not isinstance(frame_step, (int, np.integer)) or \
            frame_step < 1:
        raise RDError(f"frame_step: expected a positive integer, got {frame_step!r}")
    seqs = []
    for name, video, valence in sequences:
        v = np.asarray(video, dtype=np.float32)
        if v.ndim == 2:
            v = v[:, :, None]
        if v.ndim != 3 or v.shape[:2] != (96, 96):
            raise RDError(f"{name}: expected 96 x 96 x N crops, got {v.shape}")
        g = np.asarray(valence, np.float64).ravel()
        if g.size != v.shape[2]:
            raise RDError(f"{name}: {v.shape[2]} frames but {g.size} valence values")
        seqs.append((name, v, g))
    if not seqs:
        raise RDError("sequences: expected at least one development sequence")
    rows = []
    total = sum(len(qps) * len(seqs) for _ in factors)
    bar = tqdm(total=total, desc="figure 4", unit="encode", disable=not progress)
    try:
        for s in factors:
            if 96 % s or (96 // s) % 2:
                raise RDError(f"factor {s}: 96/s must be an even integer for 4:2:0 H.264")
            nets = models.get(s, models) if isinstance(next(iter(models), None), int) else \
                models
            if not nets:
                raise RDError(f"factor {s}: no model to evaluate")
            lows = [(name, downsample(v, s), g) for name, v, g in seqs]
            for qp in qps:
                acc = {label: _Acc() for label in nets}
                nbytes = vcl = pixels = frames = evaluated = 0
                sq_err = 0.0
                for name, low, g in lows:
                    q = quantise(low)
                    enc = encode_decode(q, qp, fps, preset)
                    nbytes += enc.bytes
                    vcl += enc.vcl_bytes
                    pixels += q.size
                    frames += q.shape[0]
                    sq_err += float(np.sum((enc.frames.astype(np.float64) - q) ** 2))
                    keep = np.arange(0, q.shape[0], frame_step)
                    dec = enc.frames[keep].transpose(1, 2, 0).astype(np.float32) / \
                        np.float32(255)
                    up = upsample(dec)
                    evaluated += keep.size
                    for label, net in nets.items():
                        acc[label].gt.append(g[keep])
                        acc[label].pred.append(np.asarray(predict(net, up), np.float64))
                        if predictions is not None:
                            seqs, idx, gts, ps = predictions.setdefault(
                                (s, qp, label), ([], [], [], []))
                            seqs.extend([name] * keep.size)
                            idx.append(keep)
                            gts.append(g[keep])
                            ps.append(acc[label].pred[-1])
                    bar.update(1)
                mse = sq_err / pixels
                psnr = math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)
                for label in nets:
                    m = all_metrics(np.concatenate(acc[label].gt),
                                    np.concatenate(acc[label].pred))
                    rows.append(dict(s=s, qp=qp, model=label, frames=frames,
                                     frames_evaluated=evaluated, lr_size=96 // s, bytes=nbytes,
                                     vcl_bytes=vcl, luma_pixels=pixels,
                                     bpp=8.0 * nbytes / pixels, bpp_vcl=8.0 * vcl / pixels,
                                     psnr_lr=psnr, rmse=m["rmse"], cc=m["cc_run_eval"],
                                     ccc=m["ccc_run_eval"], pearson_r=m["pearson_r"],
                                     ccc_avec=m["ccc_avec"]))
    finally:
        bar.close()
    if predictions is not None:
        for k, (seqs, idx, gts, ps) in predictions.items():
            if isinstance(idx, list):
                predictions[k] = (seqs, np.concatenate(idx), np.concatenate(gts),
                                  np.concatenate(ps))
    return rows


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def write_csv(rows, path):
    """``figure4.csv`` (atomically)."""
    from caffe_compat.io.atomic import write_text_atomic
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([_fmt(r[c]) for c in CSV_COLUMNS])
    write_text_atomic(path, buf.getvalue())
    return path


def write_predictions(predictions, path):
    """Write :func:`study`'s ``predictions`` as JSON (atomically); returns ``path``."""
    import json

    from caffe_compat.io.atomic import write_text_atomic
    body = [dict(s=int(s), qp=int(qp), model=label, sequence=list(seqs),
                 frame=[int(f) for f in frames], ground_truth=[float(g) for g in gt],
                 prediction=[float(p) for p in pred])
            for (s, qp, label), (seqs, frames, gt, pred) in predictions.items()]
    write_text_atomic(path, json.dumps(body) + "\n")
    return path


def read_predictions(path):
    """The ``predictions`` dict :func:`write_predictions` wrote."""
    import json
    with open(path, encoding="utf-8") as fh:
        body = json.load(fh)
    return {(d["s"], d["qp"], d["model"]): (d["sequence"], np.asarray(d["frame"], np.int64),
                                            np.asarray(d["ground_truth"]),
                                            np.asarray(d["prediction"])) for d in body}


def read_csv(path):
    """Rows of a ``figure4.csv`` (numbers parsed)."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row = {}
            for k, v in r.items():
                if k == "model":
                    row[k] = v
                elif k in ("s", "qp", "frames", "frames_evaluated", "lr_size", "bytes",
                           "vcl_bytes", "luma_pixels"):
                    row[k] = int(v)
                else:
                    row[k] = float(v) if v != "" else math.nan
            out.append(row)
    return out


_STYLE = {"HR": ("k", "o"), "LR": ("tab:blue", "s"), "Joint": ("tab:orange", "^"),
          "Joint-OA": ("tab:red", "D"), "Non-Joint": ("tab:green", "v")}


def _style(label):
    for prefix in ("Joint-OA", "Non-Joint", "Joint", "LR", "HR"):
        if label.startswith(prefix):
            return _STYLE[prefix]
    return ("tab:gray", "x")


def _save(fig, path):
    from caffe_compat.io.atomic import write_bytes_atomic
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())


def plot(rows, path, bpp_path=None, title=None):
    """``figure4.png``: per factor, CC and CCC against QP for every model, the bit rate (bpp,
    log scale) on the right axis; and ``figure4_bpp.png``: bpp against QP per factor."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    factors = sorted({r["s"] for r in rows})
    fig = Figure(figsize=(5.5 * len(factors), 7.5), dpi=100)
    axes = fig.subplots(2, len(factors), squeeze=False)
    for j, s in enumerate(factors):
        sub = [r for r in rows if r["s"] == s]
        labels = list(dict.fromkeys(r["model"] for r in sub))
        for i, metric in enumerate(("cc", "ccc")):
            ax = axes[i][j]
            for label in labels:
                pts = sorted((r["qp"], r[metric]) for r in sub if r["model"] == label)
                color, marker = _style(label)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, marker=marker,
                        label=label)
            ax.set_xlabel("QP")
            ax.set_ylabel(metric.upper())
            ax.set_title(f"s = {s} ({96 // s}x{96 // s} luma): {metric.upper()} vs QP")
            ax.grid(alpha=0.3)
            bpp = sorted({(r["qp"], r["bpp"]) for r in sub})
            tw = ax.twinx()
            tw.plot([b[0] for b in bpp], [b[1] for b in bpp], color="0.5", linestyle=":",
                    marker=".", label="bits per pixel")
            tw.set_yscale("log")
            tw.set_ylabel("bits per luma pixel (dotted)", color="0.4")
            if i == 0:
                h1, l1 = ax.get_legend_handles_labels()
                h2, l2 = tw.get_legend_handles_labels()
                ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower left")
    fig.suptitle(title or "Figure 4: CC / CCC of H.264-compressed\nLR dev video (x264, "
                 "fixed QP)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    if bpp_path:
        fig = Figure(figsize=(6, 4), dpi=100)
        ax = fig.add_subplot(1, 1, 1)
        for s in factors:
            bpp = sorted({(r["qp"], r["bpp"]) for r in rows if r["s"] == s})
            ax.plot([b[0] for b in bpp], [b[1] for b in bpp], marker="o",
                    label=f"s = {s} ({96 // s}x{96 // s})")
        ax.set_yscale("log")
        ax.set_xlabel("QP")
        ax.set_ylabel("bits per luma pixel (packets incl. SPS/PPS/SEI)")
        ax.set_title("Bit rate of the LR dev video against QP")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        _save(fig, bpp_path)
    return path
