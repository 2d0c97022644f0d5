"""Port of the original ``matlabscripts/evaluation/run_eval.m`` and ``eval_video.m``.

    python -m matlab_ports.run_eval --model deploy.prototxt --weights W.caffemodel \\
        --crops DIR --out DIR [--sequences dev_1,dev_2,...] [--save-feature] [--batch 64]

For every ``<seq>.mat`` of face crops (as ``prepare_dataset.m`` saves them: ``video``
96x96xN, ``valence`` 1xN, ``video_time`` 1xN) the deploy net predicts one valence per frame;
then RMSE, CC and CCC per sequence and on the concatenation of all sequences, with run_eval.m's
formulas exactly, next to the textbook Pearson r and the AVEC CCC:

- ``rmse``          = sqrt(sum((p - g).^2) / N)
- ``cc_run_eval``   = mean((g - mean(g)) .* (p - mean(p))) / (std(g) * std(p)), std with N-1:
                      the mean of products is normalised by N, so this is Pearson r * (N-1)/N
- ``ccc_run_eval``  = 2 * cc_run_eval * std(g) * std(p) / (var(g) + var(p) + (mean(g) -
                      mean(p))^2), var with N-1, as the script writes it
- ``pearson_r``     = sum(dg .* dp) / sqrt(sum(dg.^2) * sum(dp.^2))
- ``ccc_avec``      = 2 cov(g, p) / (var(g) + var(p) + (mean(g) - mean(p))^2), all population
                      (normalised by N), the AVEC challenge's definition

Orientation: MATLAB hands ``video(:,:,n)`` to matcaffe, which reads MATLAB's first dimension as
the blob's width, so the published nets saw every face transposed; this port feeds the net
``video(:,:,n).'`` (blob row h, column w = ``video(w, h, n)``), exactly what Caffe saw.

Deliberate differences from the script: frames go through the net in batches (``--batch``; the
script forwards them one by one, same numbers); the net's input size is set to the crops' size
(the script needs a deploy file edited to match); ``video_time`` may be missing (frame numbers
are used instead). Outputs (all written atomically, and only once every sequence has been
evaluated, metrics.json last): ``predictions.csv``, ``metrics.csv``, ``metrics.json``,
``figures/<seq>.png`` and ``figures/all.png`` (the script's figures: ground truth in black,
prediction in blue, metrics in the title) and with ``--save-feature`` ``features/<seq>.mat``
(``feature``: the 300 x N fc4 blob after ReLU, as eval_video.m collects it).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from caffe_compat.parallel.threads import usable_threads

from .errors import PortError, PortFileError
from .eval_metrics import METRIC_LABELS, METRICS, all_metrics, script_metrics, textbook_metrics
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["run_eval", "eval_video", "load_crops", "video_to_blob", "script_metrics",
           "textbook_metrics", "all_metrics", "default_sequences", "natural_key",
           "SequenceResult", "EvalResults", "SCRIPT_SEQUENCES", "METRIC_LABELS", "main"]

SCRIPT_SEQUENCES = tuple(f"dev_{k}" for k in range(1, 10))   # run_eval.m's file_name list


# --------------------------------------------------------------------------------------------
# input


def natural_key(name):
    """Sort key putting dev_2 before dev_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def default_sequences(crops_dir):
    """run_eval.m's list (dev_1..dev_9) when all nine are in ``crops_dir``, else every
    ``dev_*.mat`` there in natural order; PortFileError if there are none."""
    try:
        names = [f[:-4] for f in os.listdir(crops_dir) if f.endswith(".mat")]
    except FileNotFoundError:
        raise PortFileError(f"{crops_dir}: no such folder of crops") from None
    except NotADirectoryError:
        raise PortFileError(f"{crops_dir}: not a folder (expected a folder of <seq>.mat "
                            "crops)") from None
    if all(s in names for s in SCRIPT_SEQUENCES):
        return list(SCRIPT_SEQUENCES)
    dev = sorted((n for n in names if n.startswith("dev_")), key=natural_key)
    if not dev:
        raise PortFileError(f"{crops_dir}: no dev_*.mat crops here (as prepare_dataset.m "
                            "saves them); name the files with --sequences")
    return dev


@dataclass
class Crops:
    """One ``<seq>.mat``: ``video`` (H x W x N, MATLAB orientation, float32), ``valence`` (N,)
    and ``video_time`` (N,) float64 or None."""
    name: str
    path: str
    video: np.ndarray
    valence: np.ndarray
    video_time: np.ndarray | None


def _vector(path, name, value, n=None):
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise PortFileError(f"{path}: variable '{name}' is not numeric ({a.dtype}); expected a "
                            "1xN vector")
    if a.ndim > 2 or (a.ndim == 2 and min(a.shape) > 1):
        raise PortFileError(f"{path}: variable '{name}' is {'x'.join(map(str, a.shape))}; "
                            "expected a 1xN vector")
    a = a.astype(np.float64).ravel()
    if n is not None and a.size != n:
        raise PortFileError(f"{path}: variable '{name}' has {a.size} values but video has {n} "
                            "frames")
    return a


def load_crops(path):
    """Read and check a crops file as prepare_dataset.m saves it (see :class:`Crops`)."""
    from .matfile import loadmat
    path = os.fspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    if not os.path.isfile(path):
        raise PortFileError(f"{path}: no such crops file")
    data = loadmat(path)
    missing = [v for v in ("video", "valence") if v not in data]
    if missing:
        have = ", ".join(sorted(data)) or "none"
        raise PortFileError(f"{path}: missing variable(s) {', '.join(missing)} (has: {have}); "
                            "expected video (HxWxN face crops), valence (1xN) and video_time "
                            "(1xN) as prepare_dataset.m saves them")
    video = np.asarray(data["video"])
    if video.dtype.kind not in "biuf" or video.ndim not in (2, 3) or video.size == 0:
        raise PortFileError(f"{path}: variable 'video' is {video.dtype} "
                            f"{'x'.join(map(str, video.shape))}; expected numeric HxWxN crops")
    if video.ndim == 2:                      # MATLAB drops the trailing 1 of a single frame
        video = video[:, :, None]
    n = video.shape[2]
    valence = _vector(path, "valence", data["valence"], n)
    times = _vector(path, "video_time", data["video_time"], n) if "video_time" in data else None
    # run_eval.m: permute(single(video), [1,2,3])
    return Crops(name, path, video.astype(np.float32, copy=False), valence, times)


def video_to_blob(video):
    """The net input Caffe gets from ``video(:,:,n)`` via matcaffe: N x 1 x W x H, i.e. each
    MATLAB frame transposed (blob[n, 0, h, w] = video[w, h, n])."""
    video = np.asarray(video, dtype=np.float32)
    if video.ndim == 2:
        video = video[:, :, None]
    return np.ascontiguousarray(video.transpose(2, 1, 0))[:, None, :, :]


# --------------------------------------------------------------------------------------------
# evaluation


def _output_name(net):
    """The valence output blob (fc5), checked to hold one value per frame."""
    outs = net.outputs
    name = "fc5" if "fc5" in outs else (outs[0] if len(outs) == 1 else None)
    shape = tuple(net.blob_shape(name)) if name is not None else ()
    if name is None or len(shape) < 2 or int(np.prod(shape[1:])) != 1:
        from lq_models import detect_architecture
        arch = detect_architecture(net)
        what = arch.description if arch else f"outputs {outs}"
        raise PortError(f"net '{net.name}' of {getattr(net, 'source', '?')} does not output one "
                        f"valence per frame ({what}); evaluate a CNN+D caffemodel")
    return name


def _on_engine(net):
    """True when ``net``'s output-only forwards may run on an engine other than torch
    (:mod:`caffe_compat.inference.engines`; never in Caffe's exact order)."""
    from caffe_compat.kernels import blas_order
    return getattr(net, "engine", None) not in (None, "torch") and not blas_order.INFERENCE


def engine_used(net):
    """The engine of ``net``'s last output-only forward ("torch" when none ran)."""
    if getattr(net, "engine_name", None):          # matlab_ports.precision.ReducedNet
        return net.engine_name
    runners = getattr(net, "_engine_runners", None) or {}
    names = [r.last_engine for r in runners.values() if r.last_engine]
    return names[-1] if names else "torch"


def _on_device(net):
    """Whether ``net``'s forwards run on a device (its parameters are there)."""
    params = getattr(net, "parameters", None)
    first = next(iter(params()), None) if params is not None else None
    return first is not None and first.device.type != "cpu"


def eval_video(net, video, batch=64, save_feature=False, progress=None, workers=None):
    """eval_video.m, batched: ``(results (N,) float64, feature (300, N) float64 or None)``.

    ``video`` is H x W x N in MATLAB orientation (each frame is fed transposed, as matcaffe
    does); ``progress`` is an optional tqdm bar advanced by frames. ``workers`` batches run at
    once, each on one thread (default: torch's thread count): on a few cores, whole batches side
    by side keep every core busier than one batch split across them. The predictions are
    those of a single-threaded run (torch's kernels may round the last bit differently with
    another thread count; ``--caffe-order`` predictions do not depend on it at all).
    """
    import torch
    video = np.asarray(video)
    if video.ndim == 2:
        video = video[:, :, None]
    n = video.shape[2]
    out_name = _output_name(net)
    results = np.zeros(n, dtype=np.float64)
    feature = None
    if save_feature:
        if "fc4" not in net.blobs:
            raise PortError(f"net '{net.name}' has no fc4 blob to save as features")
        feature = np.zeros((net.blob_shape("fc4")[1], n), dtype=np.float64)
    batch = max(1, int(batch))
    wanted = ["fc4"] if feature is not None else None

    def one(start):
        stop = min(n, start + batch)
        x = torch.from_numpy(video_to_blob(video[:, :, start:stop]))   # transposed frames
        with torch.no_grad():
            # only the outputs are kept: intermediates are freed as the pass goes on
            return start, stop, net.forward(data=x, blobs=wanted, keep_blobs=False)

    starts = list(range(0, n, batch))
    threads = torch.get_num_threads()
    # by default one worker per core other processes leave us (caffe_compat.parallel.threads)
    workers = min(len(starts), min(threads, usable_threads()) if workers is None
                  else max(1, int(workers)))
    if _on_engine(net) or _on_device(net):
        workers = 1             # the engine's own threads (or the device) split each batch
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor
        torch.set_num_threads(1)
        pool = ThreadPoolExecutor(workers)
        passes = pool.map(one, starts)
    else:
        pool = None
        passes = map(one, starts)
    try:
        for start, stop, outs in passes:
            results[start:stop] = outs[out_name].reshape(stop - start, -1)[:, 0].double() \
                .cpu().numpy()
            if feature is not None:
                feature[:, start:stop] = outs["fc4"].reshape(stop - start, -1).double().cpu() \
                    .numpy().T
            if progress is not None:
                progress.update(stop - start)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            torch.set_num_threads(threads)
    return results, feature


@dataclass
class SequenceResult:
    """One sequence: predictions, ground truth, frame times, fc4 features, metrics."""
    name: str
    ground_truth: np.ndarray
    prediction: np.ndarray
    time: np.ndarray | None
    metrics: dict
    feature: np.ndarray | None = None

    @property
    def frames(self):
        return int(self.prediction.size)


@dataclass
class EvalResults:
    """What :func:`run_eval` computed and wrote."""
    sequences: list
    total: dict
    files: dict = field(default_factory=dict)
    frames_per_second: float = math.nan
    seconds: float = math.nan
    model: str = ""
    weights: str = ""
    architecture: str = ""
    engine: str = "torch"         # the engine that ran the forwards (caffe_compat.inference.engines)

    def sequence(self, name):
        for s in self.sequences:
            if s.name == name:
                return s
        raise KeyError(name)

    def table(self):
        head = f"{'sequence':<12} {'frames':>7} " + " ".join(f"{m:>12}" for m in METRICS)
        rows = [head]
        for s in self.sequences + [None]:
            name, n, m = ("all", sum(x.frames for x in self.sequences), self.total) if s is None \
                else (s.name, s.frames, s.metrics)
            rows.append(f"{name:<12} {n:>7} " + " ".join(f"{m[k]:>12.6f}" for k in METRICS))
        return "\n".join(rows)


def _fmt(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return repr(float(x))


def _json_num(x):
    return None if x is None or not math.isfinite(x) else float(x)


def _figure(path, title_name, x, gt, pred, metrics, xlabel):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(x, gt, color="k", linewidth=2, label="Ground Truth")
    ax.plot(x, pred, color="b", linewidth=2, label="CNN Prediction")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("valence")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    ax.set_title(f"{title_name}   RMSE: {metrics['rmse']:.4g}   CC: {metrics['cc_run_eval']:.4g}"
                 f"   CCC: {metrics['ccc_run_eval']:.4g}   (run_eval.m)\n"
                 f"Pearson r: {metrics['pearson_r']:.4g}   CCC (AVEC): "
                 f"{metrics['ccc_avec']:.4g}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    from caffe_compat.io.atomic import write_bytes_atomic
    write_bytes_atomic(path, buf.getvalue())


def _write_outputs(res, out_dir, run_info):
    from caffe_compat.io.atomic import write_text_atomic
    files = {}
    os.makedirs(out_dir, exist_ok=True)
    if any(s.feature is not None for s in res.sequences):
        from .matfile import savemat
        for s in res.sequences:
            path = os.path.join(out_dir, "features", f"{s.name}.mat")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            variables = {"feature": s.feature, "valence": s.ground_truth[None, :]}
            if s.time is not None:
                variables["video_time"] = s.time[None, :]
            savemat(path, variables, version="7")
            files[f"features/{s.name}"] = path
    fig_dir = os.path.join(out_dir, "figures")
    for s in res.sequences:
        x = s.time if s.time is not None else np.arange(1, s.frames + 1)
        path = os.path.join(fig_dir, f"{s.name}.png")
        _figure(path, s.name, x, s.ground_truth, s.prediction, s.metrics,
                "time (s)" if s.time is not None else "frame")
        files[f"figures/{s.name}"] = path
    gt = np.concatenate([s.ground_truth for s in res.sequences])
    pred = np.concatenate([s.prediction for s in res.sequences])
    path = os.path.join(fig_dir, "all.png")
    _figure(path, "all sequences concatenated", np.arange(1, gt.size + 1), gt, pred, res.total,
            "frame of the concatenation (" + ", ".join(s.name for s in res.sequences) + ")")
    files["figures/all"] = path

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sequence", "frame", "time", "ground_truth", "prediction"])
    for s in res.sequences:
        for i in range(s.frames):
            w.writerow([s.name, i + 1, _fmt(s.time[i]) if s.time is not None else "",
                        _fmt(s.ground_truth[i]), _fmt(s.prediction[i])])
    files["predictions"] = os.path.join(out_dir, "predictions.csv")
    write_text_atomic(files["predictions"], buf.getvalue())

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sequence", "frames"] + list(METRICS))
    for s in res.sequences:
        w.writerow([s.name, s.frames] + [_fmt(s.metrics[k]) for k in METRICS])
    w.writerow(["all", int(gt.size)] + [_fmt(res.total[k]) for k in METRICS])
    files["metrics_csv"] = os.path.join(out_dir, "metrics.csv")
    write_text_atomic(files["metrics_csv"], buf.getvalue())

    files["metrics_json"] = os.path.join(out_dir, "metrics.json")
    body = dict(run_info,
                definitions=METRIC_LABELS,
                sequences={s.name: dict({k: _json_num(s.metrics[k]) for k in METRICS},
                                        frames=s.frames) for s in res.sequences},
                all=dict({k: _json_num(res.total[k]) for k in METRICS}, frames=int(gt.size)),
                files={k: os.path.relpath(v, out_dir) for k, v in files.items()})
    write_text_atomic(files["metrics_json"], json.dumps(body, indent=1) + "\n")
    return files


def run_eval(model, weights, crops_dir, out_dir=None, sequences=None, batch=64,
             save_feature=False, progress=True, engine="auto", precision="float32",
             calibration=None, device="cpu"):
    """Evaluate ``weights`` (with deploy net ``model``; None: the zoo's deploy net of the
    weights' architecture) on ``crops_dir/<seq>.mat`` and write the outputs to ``out_dir``
    (nothing is written when ``out_dir`` is None). Returns :class:`EvalResults`.

    ``engine``: the inference engine of the forwards (:mod:`caffe_compat.inference.engines`; "auto":
    the fastest one that gives our forward's outputs, "torch": ours); Caffe's exact order
    (``--caffe-order``) and ``save_feature`` run on torch.

    ``sequences``: names (or a comma-separated string); default :func:`default_sequences`.
    ``precision``: "float32" (default) or "int8" (:mod:`matlab_ports.precision`: calibrated on
    256 frames spread over the crops files ``calibration``, default those evaluated),
    "bfloat16", or on a CUDA device "float16"; the results and metrics.json say which ran.
    ``device``: "cpu" (default) or "cuda" (the forwards on the CUDA device; an error where
    torch sees none).
    """
    from .precision import calibration_from_files, check_device, check_precision, reduced_net
    check_precision(precision, device)
    check_device(device)
    from tqdm import tqdm

    from caffe_compat.errors import CaffeCompatError
    from caffe_compat.kernels.memory import retain_freed_memory
    from lq_models import detect_architecture, load_net
    retain_freed_memory()   # batches reuse the memory of the previous one (see that module)
    crops_dir = os.fspath(crops_dir)
    if sequences is None:
        sequences = default_sequences(crops_dir)
    elif isinstance(sequences, str):
        sequences = [s.strip() for s in sequences.split(",") if s.strip()]
    sequences = [s[:-4] if s.endswith(".mat") else s for s in sequences]
    if not sequences:
        raise PortError("sequences: the list is empty")
    paths = [os.path.join(crops_dir, f"{s}.mat") for s in sequences]
    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise PortFileError(f"{absent[0]}: no such crops file"
                            + (f" (and {len(absent) - 1} more missing)" if len(absent) > 1
                               else ""))
    if int(batch) < 1:
        raise PortError(f"batch: expected a positive number of frames, got {batch}")
    net = None
    first = None
    results = []
    started = time.perf_counter()
    compute = 0.0
    for name, path in zip(sequences, paths):
        crops = load_crops(path)
        size = crops.video.shape[:2]
        if net is None:
            first = (path, size)
            try:
                # net input H, W = MATLAB columns, rows (the frames go in transposed)
                net = load_net(weights, model=model, input_size=(size[1], size[0]))
                net.engine = engine
                if precision != "float32" or device != "cpu":
                    net = reduced_net(net, precision, video_to_blob(
                        calibration_from_files(calibration or paths, load_crops))
                        if precision == "int8" else None, device)
            except CaffeCompatError as e:
                raise type(e)(f"{e}\n(crops of {path}: {size[0]}x{size[1]})") from None
            _output_name(net)
        elif size != first[1]:
            raise PortFileError(f"{path}: crops are {size[0]}x{size[1]} but those of "
                                f"{first[0]} are {first[1][0]}x{first[1][1]}; evaluate them "
                                "separately")
        if float(np.nanmax(crops.video)) > 1.5:
            warnings.warn(f"{path}: crops reach {float(np.nanmax(crops.video)):g}; the nets "
                          "were trained on faces scaled to [0, 1] (prepare_dataset.m divides by "
                          "255)", stacklevel=2)
        t0 = time.perf_counter()
        with tqdm(total=crops.video.shape[2], desc=name, unit="frame", disable=not progress,
                  leave=False) as bar:
            pred, feature = eval_video(net, crops.video, batch, save_feature, bar)
        compute += time.perf_counter() - t0
        results.append(SequenceResult(name, crops.valence, pred, crops.video_time,
                                      all_metrics(crops.valence, pred), feature))
        del crops
    gt = np.concatenate([s.ground_truth for s in results])
    pred = np.concatenate([s.prediction for s in results])
    frames = int(gt.size)
    arch = detect_architecture(weights)
    res = EvalResults(results, all_metrics(gt, pred),
                      frames_per_second=frames / compute if compute > 0 else math.nan,
                      seconds=time.perf_counter() - started, model=str(net.source),
                      weights=os.fspath(weights), architecture=arch.description if arch else "",
                      engine=engine_used(net))
    # what ran: bfloat16 falls back to float32 where the processor has no bf16 (ReducedNet)
    res.precision = getattr(net, "precision", precision) if precision != "float32" else precision
    if out_dir is not None:
        import torch
        run_info = dict(model=res.model, weights=res.weights, architecture=res.architecture,
                        crops=os.path.abspath(crops_dir), batch=int(batch), frames=frames,
                        frames_per_second=_json_num(res.frames_per_second),
                        torch_threads=torch.get_num_threads(),
                        engine=res.engine, precision=res.precision, device=device,
                        orientation="each MATLAB frame video(:,:,n) is fed transposed, as "
                                    "matcaffe does")
        res.files = _write_outputs(res, os.fspath(out_dir), run_info)
    return res


# --------------------------------------------------------------------------------------------
# command line


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m matlab_ports.run_eval",
        description="run_eval.m / eval_video.m: valence predictions and RMSE, CC, CCC of a "
                    "CNN+D caffemodel on face crops saved by prepare_dataset.m.")
    parser.add_argument("--model", default=None, help="deploy prototxt or zoo key (default: "
                        "the zoo's deploy net for the weights' architecture)")
    parser.add_argument("--weights", required=True, help="caffemodel")
    parser.add_argument("--crops", required=True, help="folder of <seq>.mat crops")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sequences", default=None,
                        help="comma-separated names (default: dev_1..dev_9, or every dev_*.mat)")
    parser.add_argument("--save-feature", action="store_true",
                        help="also save the 300-d fc4 features of every frame (features/*.mat)")
    parser.add_argument("--batch", type=int, default=64, help="frames per forward pass (64)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--engine", default="auto",
                        help="inference engine: auto (the fastest that gives our forward's "
                             "outputs), torch, onnxruntime or openvino (docs/engines.md)")
    parser.add_argument("--caffe-order", action="store_true",
                        help="sum every convolution and inner product in Caffe's order: "
                             "predictions bit-identical to Caffe's (slower)")
    parser.add_argument("--precision", choices=("float32", "int8", "bfloat16", "float16"),
                        default="float32",
                        help="float32 (default), int8 (calibrated on 256 frames spread over "
                             "the sequences), bfloat16 (where the processor computes in it) "
                             "or, with --device cuda, float16 (matlab_ports.precision)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the forwards run (cpu)")
    parser.add_argument("--calibration", default=None, metavar="DIR",
                        help="int8: calibrate on the <seq>.mat crops of this folder instead")
    args = parser.parse_args(argv)
    from caffe_compat.kernels import blas_order
    from caffe_compat.errors import CaffeCompatError
    if args.caffe_order:
        blas_order.INFERENCE = True
    try:
        res = run_eval(args.model, args.weights, args.crops, args.out, args.sequences,
                       args.batch, args.save_feature, progress=bars_wanted(args.quiet),
                       engine=args.engine, precision=args.precision, device=args.device,
                       calibration=None if args.calibration is None else [
                           os.path.join(args.calibration, f) for f in
                           sorted(os.listdir(args.calibration), key=natural_key)
                           if f.endswith(".mat")])
    except (PortError, CaffeCompatError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"{res.architecture or res.weights}")
    print(res.table())
    print(f"(cc/ccc_run_eval: run_eval.m's formulas; pearson_r, ccc_avec: textbook/AVEC)")
    print(f"{sum(s.frames for s in res.sequences)} frames at {res.frames_per_second:.1f} "
          f"frames/s ({res.engine}); precision {res.precision}; outputs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
