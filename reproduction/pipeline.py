"""The whole reproduction as resumable steps: data, SR pre-training, training, evaluation,
Table 1 and Figure 4.

The original repository's README lists seven manual steps (prepare_dataset.m; prepare_h5_files.m;
CNN+D for HQ and LQ; generate_train.m / generate_test.m; SR-FCN pre-training; Non-Joint; Joint).
:class:`Pipeline` runs them, for every method and factor asked for, as named steps:

=====================  ======================================================================
``sample``             the bundled AVEC-like sample (only with ``sample=...``)
``crops-hr``           prepare_dataset.m: 96x96 face crops of the train and dev sequences
``crops-lr-<s>``       the LR-s crops, computed from the HR crops with the script's own
                       degradation (``imresize(imresize(face, 1/s), [96 96])`` in single);
                       equal to prepare_dataset.m with the "CHANGE HERE" line, without
                       decoding the videos again
``h5-<variant>``       prepare_h5_files.m: train/test HDF5 files of ``hr``, ``lr-<s>`` or
                       ``mix-3-4-6`` (generate_h5's ``mix`` option, drawn on the HR crops)
``sr-patches-<s>``     generate_train.m (and generate_test.m): SR-FCN patches at factor s from a
                       folder of images (the original 91 "Train" images), or, with no folder,
                       from the training faces themselves (every ``sr_face_step``-th HR crop)
``train-<model>``      the model's solver with our prototxt (see :mod:`reproduction.recipes`);
                       Joint / Non-Joint / Joint-OA start from the SR-FCN's conv1-conv3
``eval-<model>@<t>``   run_eval.m on the dev crops (HR, or LR-s)
``table``              Table 1 next to the paper's values (:mod:`reproduction.table`)
``figure4-s<s>``       the rate-distortion study (:mod:`reproduction.rate_distortion`)
``figure4``            its CSV and plots
=====================  ======================================================================

Resuming. Every step has a key: a hash of its parameters and of the keys of the steps it reads
from. Its outputs are written atomically, and a completion stamp ``stamps/<step>.json`` (the
key, the parameters, what was written) is written last. On a new run a step whose stamp carries
the current key is skipped; a step whose key changed (a changed parameter, or a changed step
upstream) runs again, and with it everything downstream. A training step snapshots every
``snapshot`` iterations (only the newest snapshot is kept) and, interrupted, resumes from its
last snapshot with the data position and random streams restored (caffe_compat's exact resume:
on CPU the weights at the end are those of an uninterrupted run).

Everything is seeded: generate_h5 draws from MATLAB's stream (seed 0), each solver has
``random_seed`` (``seed``, default 1). A rerun gives the same bits with the same CPU kernels
(``kernels.json`` and every stamp record them; :mod:`caffe_compat.numerics`).
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import time

import numpy as np

from . import recipes as R
from .frames import predict_frames

__all__ = ["ReproductionError", "Config", "Step", "Pipeline", "predict_frames",
           "degrade_video", "derive_lr_crops", "face_patch_plan", "sequence_names",
           "latest_snapshot"]

STAMP_FORMAT = "reproduction.stamp/1"


class ReproductionError(Exception):
    """Bad input or state of the reproduction (a file, folder or option), with what to fix."""


# --------------------------------------------------------------------------------------------
# Data helpers


def degrade_video(video, s):
    """``imresize(imresize(face, 1/s, 'bicubic'), [96 96], 'bicubic')`` of every frame of a
    96x96xN crops array, in single as prepare_dataset.m computes it (its crops are single values
    saved in a double array); returns the input's class (double holding single values, or
    single)."""
    from matlab_ports.imresize import imresize
    v = np.asarray(video)
    v32 = v.astype(np.float32)
    if v.dtype == np.float64:
        same = v32.astype(np.float64) == v
        if not same.all() and not np.isnan(v[~same]).all():
            raise ReproductionError("crops: the video holds values that are not single "
                                    "precision; expected prepare_dataset.m's crops")
    small = imresize(v32, scale=1.0 / float(s), method="bicubic")
    back = imresize(small, output_size=v32.shape[:2], method="bicubic")
    out_dtype = np.float32 if v.dtype == np.float32 else np.float64
    return np.asarray(back, dtype=out_dtype).reshape(v.shape)


def sequence_names(folder, prefix):
    """``<prefix>_<k>`` names of ``folder``'s ``.mat`` or ``.mp4`` files, in natural order."""
    from matlab_ports.run_eval import natural_key
    names = set()
    for f in os.listdir(folder):
        stem, ext = os.path.splitext(f)
        if ext in (".mat", ".mp4") and re.fullmatch(rf"{prefix}_\d+", stem):
            names.add(stem)
    return sorted(names, key=natural_key)


def derive_lr_crops(hr_dir, out_dir, s, sequences, mat_version="6", progress=True):
    """Write ``<out_dir>/<seq>.mat`` = the HR crops of ``hr_dir`` degraded by ``s``
    (:func:`degrade_video`), with the same ``valence`` and ``video_time``."""
    from tqdm import tqdm

    from matlab_ports.matfile import loadmat, savemat
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in tqdm(sequences, desc=f"LR-{s} crops", unit="seq", disable=not progress,
                     leave=False):
        src = os.path.join(hr_dir, name + ".mat")
        dst = os.path.join(out_dir, name + ".mat")
        if os.path.exists(dst):
            written.append(dst)
            continue
        d = loadmat(src)
        if "video" not in d or "valence" not in d:
            raise ReproductionError(f"{src}: expected video and valence (prepare_dataset.m's "
                                    "crops)")
        variables = {"video": degrade_video(d["video"], s), "valence": d["valence"]}
        if "video_time" in d:
            variables["video_time"] = d["video_time"]
        savemat(dst, variables, version=mat_version)
        written.append(dst)
    return written


def face_patch_plan(crops_dir, sequences, scale, face_step=10, stride=14, size_input=32,
                    size_label=16, progress=True):
    """A :class:`matlab_ports.sr_patches.PatchPlan` of SR patches cut from HR face crops (every
    ``face_step``-th frame of each sequence) instead of the 91 images: each face is the label
    image (``modcrop`` by ``scale``), its bicubic round trip by ``scale`` the input, in double,
    as generate_train.m treats an image."""
    from tqdm import tqdm

    from matlab_ports.matfile import loadmat
    from matlab_ports.sr_patches import PatchPlan, SRImage, degrade_pair, patch_origins
    images, index = [], []
    for name in tqdm(sequences, desc=f"SR patches x{scale}", unit="seq", disable=not progress,
                     leave=False):
        path = os.path.join(crops_dir, name + ".mat")
        video = np.asarray(loadmat(path)["video"], dtype=np.float64)
        if video.ndim == 2:
            video = video[:, :, None]
        for n in range(0, video.shape[2], face_step):
            label, inp = degrade_pair(np.ascontiguousarray(video[:, :, n]), scale)
            if inp is None:
                continue
            origins = patch_origins(label.shape[0], label.shape[1], size_input, stride)
            if not origins.size:
                continue
            k = len(images)
            images.append(SRImage(f"{path}#{n + 1}", label, inp, int(origins.shape[0])))
            index.append(np.column_stack([np.full(origins.shape[0], k, np.int64), origins]))
    if not index:
        raise ReproductionError(f"{crops_dir}: no face crop large enough for SR patches")
    return PatchPlan(images, np.concatenate(index), size_input, size_label,
                     abs(size_input - size_label) // 2)


# --------------------------------------------------------------------------------------------
# Prediction


def load_model(weights, deploy, device="cpu"):
    from models import load_net
    net = load_net(weights, model=deploy, input_size=(96, 96))
    return net.to(device)


def evaluate(weights, deploy, crops_dir, sequences, out_dir, device="cpu", batch=128,
             progress=True):
    """run_eval.m on ``crops_dir``: predictions, metrics and figures under ``out_dir`` (as
    :func:`matlab_ports.run_eval.run_eval` writes them); returns the metrics of the
    concatenation."""
    from tqdm import tqdm

    from matlab_ports import run_eval as RE
    net = load_model(weights, deploy, device)
    results = []
    t0 = time.perf_counter()
    for name in tqdm(sequences, desc="evaluate", unit="seq", disable=not progress,
                     leave=False):
        crops = RE.load_crops(os.path.join(crops_dir, name + ".mat"))
        pred = predict_frames(net, crops.video, batch)
        results.append(RE.SequenceResult(name, crops.valence, pred, crops.video_time,
                                         RE.all_metrics(crops.valence, pred)))
    gt = np.concatenate([s.ground_truth for s in results])
    pred = np.concatenate([s.prediction for s in results])
    seconds = time.perf_counter() - t0
    res = RE.EvalResults(results, RE.all_metrics(gt, pred), seconds=seconds,
                         model=os.fspath(deploy), weights=os.fspath(weights))
    run_info = dict(model=res.model, weights=res.weights, crops=os.path.abspath(crops_dir),
                    device=str(device), frames=int(gt.size), seconds=seconds,
                    orientation="each MATLAB frame video(:,:,n) is fed transposed, as "
                                "matcaffe does")
    RE._write_outputs(res, out_dir, run_info)
    return {k: (None if v is None or not np.isfinite(v) else float(v))
            for k, v in res.total.items()}, int(gt.size)


# --------------------------------------------------------------------------------------------
# Training


def latest_snapshot(prefix):
    """``(iteration, solverstate path)`` of the newest complete snapshot ``<prefix>_iter_N``
    (caffemodel, solverstate and data-position sidecar all present), or None."""
    from caffe_compat.solvers.base import SIDECAR_SUFFIX
    best = None
    for state in glob.glob(glob.escape(prefix) + "_iter_*.solverstate"):
        m = re.search(r"_iter_(\d+)\.solverstate$", state)
        if not m:
            continue
        it = int(m.group(1))
        model = state[:-len(".solverstate")] + ".caffemodel"
        if os.path.isfile(model) and os.path.isfile(state + SIDECAR_SUFFIX):
            if best is None or it > best[0]:
                best = (it, state)
    return best


def _prune_snapshots(prefix, keep_iter):
    for path in glob.glob(glob.escape(prefix) + "_iter_*"):
        m = re.search(r"_iter_(\d+)\.", path)
        if m and int(m.group(1)) != keep_iter:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


class _Recorder:
    """Solver callback: the loss of every iteration; old snapshots pruned; the partial loss
    curve saved beside each snapshot; user callbacks forwarded."""

    def __init__(self, prefix, snapshot, history, extra=()):
        self.prefix = prefix
        self.snapshot = snapshot
        self.history = history
        self.extra = list(extra)

    def on_iteration_end(self, solver, loss):
        self.history.append((int(solver.iter), float(loss)))
        # the snapshot of iteration (iter - 1) exists now: keep only the newest
        if solver.iter > 1 and (solver.iter - 1) % self.snapshot == 0:
            _prune_snapshots(self.prefix, solver.iter - 1)
        if solver.iter % self.snapshot == 0:
            _write_loss(self.prefix + "_loss.csv", self.history)
        for cb in self.extra:
            fn = getattr(cb, "on_iteration_end", None)
            if fn is not None:
                fn(solver, loss)


def _write_loss(path, history):
    from caffe_compat.io.atomic import write_text_atomic
    write_text_atomic(path, "iteration,loss\n" + "".join(f"{i},{v!r}\n" for i, v in history))


def _read_loss(path, upto):
    if not os.path.isfile(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        next(f, None)
        for line in f:
            i, v = line.strip().split(",")
            if int(i) <= upto:
                out.append((int(i), float(v)))
    return out


def _plot_loss(history, path, title):
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from caffe_compat.io.atomic import write_bytes_atomic
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if history:
        it = np.array([h[0] for h in history])
        loss = np.array([h[1] for h in history])
        ax.plot(it, loss, color="0.7", linewidth=0.8, label="loss")
        k = max(1, len(loss) // 20)
        if k > 1:
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            ax.plot(it[k - 1:], smooth, color="tab:blue", label=f"mean of {k}")
        ax.legend()
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (EuclideanLoss)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())


def _solver_param(rec, seed, snapshot_prefix, test):
    from caffe_compat.io.prototxt import read_net, read_solver
    param = read_solver(rec.solver)
    if rec.weight_filler:
        net = read_net(rec.net)
        for lp in net.layer:
            if lp.type == "Convolution":
                f = lp.convolution_param.weight_filler
                f.Clear()
                f.type = rec.weight_filler
        param.ClearField("net")
        param.net_param.CopyFrom(net)
    else:
        param.net = os.path.abspath(rec.net)
    param.max_iter = rec.max_iter
    param.snapshot = rec.snapshot
    param.snapshot_prefix = snapshot_prefix
    param.random_seed = int(seed)
    param.display = max(1, min(param.display or 100, max(1, rec.max_iter // 10)))
    if rec.base_lr is not None:
        param.base_lr = float(rec.base_lr)
    if not test:
        del param.test_iter[:]
        param.test_interval = 0
        param.test_initialization = False
    return param


def train_model(rec, train_list, test_list, work_dir, device="cpu", init_weights=None, seed=1,
                callbacks=(), progress=True):
    """Train ``rec`` (a :class:`reproduction.recipes.Recipe`) in ``work_dir``, resuming from
    the newest snapshot there; returns dict(weights, resumed_from, history, seconds)."""
    from caffe_compat import get_solver
    from caffe_compat.solvers._log import SolverLog
    os.makedirs(work_dir, exist_ok=True)
    prefix = os.path.join(work_dir, rec.key)
    test = rec.test and test_list is not None
    param = _solver_param(rec, seed, prefix, test)
    last = latest_snapshot(prefix)
    history = _read_loss(prefix + "_loss.csv", last[0]) if last else []
    t0 = time.perf_counter()
    with open(os.path.join(work_dir, "train.log"), "a", encoding="utf-8") as logf:
        log = SolverLog(stream=None, files=[logf])
        solver = get_solver(param, train_source=train_list,
                            test_source=test_list if test else None, device=device,
                            weights=[init_weights] if init_weights else None,
                            batch_size=rec.batch_size, log=log, progress=progress)
        solver.add_callback(_Recorder(prefix, rec.snapshot, history, callbacks))
        if last is not None and last[0] >= rec.max_iter:
            resumed = last[0]
            final = last[1][:-len(".solverstate")] + ".caffemodel"
        else:
            resumed = last[0] if last else None
            solver.solve(resume=last[1] if last else None)
            final = f"{prefix}_iter_{solver.iter}.caffemodel"
            if solver.requested_early_exit or solver.iter != rec.max_iter:
                raise ReproductionError(f"{rec.key}: training stopped at iteration "
                                        f"{solver.iter} of {rec.max_iter}")
    _prune_snapshots(prefix, rec.max_iter)
    _write_loss(prefix + "_loss.csv", history)
    return dict(weights=final, resumed_from=resumed, history=history,
                seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# Steps


@dataclasses.dataclass
class Step:
    """A named unit of work: ``params`` (JSON) and ``deps`` (step names) decide its key;
    ``fn(pipeline, step) -> dict`` does the work and returns what it wrote."""
    name: str
    params: dict
    deps: tuple
    fn: object
    title: str = ""


@dataclasses.dataclass
class Config:
    """What to reproduce (see :class:`Pipeline`)."""
    out: str
    avec: str | None = None
    sample: dict | None = None
    methods: tuple = R.METHODS
    factors: tuple = R.PAPER_FACTORS
    mix: tuple = R.DEFAULT_MIX
    schedule: R.Schedule = dataclasses.field(default_factory=lambda: R.SCHEDULES["full"])
    device: str = "cpu"
    sr_images: str | None = None
    sr_test_images: str | None = None
    sr_face_step: int = 10
    train: tuple | None = None
    dev: tuple | None = None
    figure4: dict | None = None
    seed: int = 1
    mat_version: str = "6"
    video_class: str = "single"

    def to_json(self):
        d = dataclasses.asdict(self)
        d["schedule"] = self.schedule.as_dict()
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        sched = dict(d.pop("schedule"))
        sched["iters"] = tuple(sorted(sched.get("iters", {}).items()))
        for k in ("methods", "factors", "mix", "train", "dev"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(schedule=R.Schedule(**sched), **d)


def _key(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _listing(folder, pattern="*"):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, pattern)))


class Pipeline:
    """The reproduction of :class:`Config` ``config`` as resumable steps (module doc).

    ``callbacks``: solver callbacks added to every training (e.g. a progress probe);
    ``log``: a function taking one line (default: print to stdout); ``progress``: tqdm bars.
    """

    def __init__(self, config, callbacks=(), log=None, progress=True):
        self.config = config
        self.callbacks = list(callbacks)
        self.progress = progress
        self.log = log or (lambda line: print(line, flush=True))
        self.out = os.path.abspath(config.out)
        self._check_config()
        self.recipes = {r.key: r for r in R.plan(config.methods, config.factors,
                                                 config.schedule, config.mix)}
        self.evals = R.evaluations(config.methods, config.factors)
        self.steps = {}
        self._build()
        self._keys = {}

    # ------------------------------------------------------------------ configuration
    def _check_config(self):
        c = self.config
        if (c.avec is None) == (c.sample is None):
            raise ReproductionError("give the AVEC 2016 folder (--avec DIR) or use the bundled "
                                    "sample (--sample), one of the two")
        if c.avec is not None:
            if not os.path.isdir(c.avec):
                raise ReproductionError(f"--avec: {c.avec} is not a folder (expected the AVEC "
                                        "2016 root with recordings_video/ and data/bbox/)")
            video_dir = os.path.join(c.avec, "recordings_video")
            if not os.path.isdir(video_dir):
                raise ReproductionError(f"--avec: {video_dir} not found (expected the AVEC "
                                        "2016 layout: recordings_video/<seq>.mp4, "
                                        "recordings_video_frame_time/, data/bbox/, data/gsd/)")
        for opt, folder in (("--sr-images", c.sr_images),
                            ("--sr-test-images", c.sr_test_images)):
            if folder is not None and not os.path.isdir(folder):
                raise ReproductionError(f"{opt}: {folder} is not a folder of .bmp images")
        if c.device not in ("cpu",) and not str(c.device).startswith("cuda"):
            raise ReproductionError(f"--device: expected cpu or cuda, got {c.device!r}")
        if str(c.device).startswith("cuda"):
            import torch
            if not torch.cuda.is_available():
                raise ReproductionError("--device cuda: no CUDA device is available here; "
                                        "use --device cpu")
        if c.mat_version not in ("6", "7"):
            raise ReproductionError(f"--mat-version: expected 6 or 7, got {c.mat_version!r}")
        if c.video_class not in ("single", "double"):
            raise ReproductionError(f"--video-class: expected single or double, got "
                                    f"{c.video_class!r}")
        if not isinstance(c.sr_face_step, int) or c.sr_face_step < 1:
            raise ReproductionError(f"--sr-face-step: expected a positive integer, got "
                                    f"{c.sr_face_step!r}")
        if c.figure4 is not None:
            from . import rate_distortion as RD
            for s in c.figure4.get("factors", ()):
                if s not in c.factors:
                    raise ReproductionError(f"--rd-factors: s={s} is not among --factors "
                                            f"({','.join(map(str, c.factors))}); its LR-s "
                                            "model would be missing")
            for q in c.figure4.get("qps", ()):
                try:
                    RD._check_qp(q)
                except RD.RDError as e:
                    raise ReproductionError(f"--qps: {e}") from None

    def path(self, *parts):
        return os.path.join(self.out, *parts)

    @property
    def avec_root(self):
        return self.path("sample") if self.config.sample is not None else \
            os.path.abspath(self.config.avec)

    def sequences(self):
        """``(train, dev)`` sequence names: ``--train`` / ``--dev``, else those of the sample,
        else every ``train_<k>`` / ``dev_<k>`` video of the AVEC folder."""
        c = self.config
        if c.sample is not None:
            train = tuple(f"train_{k}" for k in range(1, int(c.sample.get("n_train", 3)) + 1))
            dev = tuple(f"dev_{k}" for k in range(1, int(c.sample.get("n_dev", 3)) + 1))
        else:
            folder = os.path.join(self.avec_root, "recordings_video")
            train = tuple(sequence_names(folder, "train"))
            dev = tuple(sequence_names(folder, "dev"))
        train = tuple(c.train) if c.train else train
        dev = tuple(c.dev) if c.dev else dev
        if not train or not dev:
            raise ReproductionError(f"{self.avec_root}: expected train_<k> and dev_<k> "
                                    f"sequences (found {len(train)} train, {len(dev)} dev)")
        return train, dev

    # ------------------------------------------------------------------ the step graph
    def _add(self, name, params, deps, fn, title=""):
        self.steps[name] = Step(name, params, tuple(deps), fn, title or name)

    def _build(self):
        c = self.config
        sched = c.schedule
        if c.sample is not None:
            self._add("sample", dict(c.sample), [], Pipeline._run_sample,
                      "bundled AVEC-like sample")
        base = ["sample"] if c.sample is not None else []
        avec_id = None if c.sample is not None else os.path.abspath(c.avec)
        self._add("crops-hr", dict(avec=avec_id, train=c.train, dev=c.dev,
                                   mat_version=c.mat_version, video_class=c.video_class),
                  base, Pipeline._run_crops_hr,
                  "HR face crops (prepare_dataset.m)")
        lr_factors = sorted({ev.test[1] for ev in self.evals if ev.test[0] == "lr"} |
                            {r.data[1] for r in self.recipes.values() if r.data[0] == "lr"})
        for s in lr_factors:
            self._add(f"crops-lr-{s}", dict(s=s, mat_version=c.mat_version), ["crops-hr"],
                      Pipeline._run_crops_lr, f"LR-{s} crops from the HR crops")
        variants = {}
        for r in self.recipes.values():
            if r.data[0] == "hr":
                variants["hr"] = ("crops-hr", None)
            elif r.data[0] == "lr":
                variants[f"lr-{r.data[1]}"] = (f"crops-lr-{r.data[1]}", None)
            elif r.data[0] == "mix":
                variants["mix-" + "-".join(map(str, r.data[1]))] = ("crops-hr", r.data[1])
        for v, (crops, mix) in variants.items():
            self._add(f"h5-{v}", dict(variant=v, mix=list(mix) if mix else None,
                                      chunk=sched.chunk, seed=0), [crops],
                      Pipeline._run_h5, f"HDF5 training files {v} (prepare_h5_files.m)")
        sr_factors = sorted({r.data[1] for r in self.recipes.values() if r.data[0] == "sr"})
        for s in sr_factors:
            images = os.path.abspath(c.sr_images) if c.sr_images else None
            tests = os.path.abspath(c.sr_test_images) if c.sr_test_images else None
            self._add(f"sr-patches-{s}",
                      dict(s=s, images=images, test_images=tests,
                           listing=_listing(images, "*.bmp") if images else None,
                           face_step=None if images else c.sr_face_step,
                           chunk=128 if images else sched.chunk, stride=14, size_input=32,
                           size_label=16, seed=0),
                      [] if images else ["crops-hr"], Pipeline._run_sr_patches,
                      f"SR-FCN patches at s={s}" + ("" if images else
                                                    " (from the training faces)"))
        for r in self.recipes.values():
            data_step = {"sr": lambda: f"sr-patches-{r.data[1]}", "hr": lambda: "h5-hr",
                         "lr": lambda: f"h5-lr-{r.data[1]}",
                         "mix": lambda: "h5-mix-" + "-".join(map(str, r.data[1]))}[r.data[0]]()
            deps = [data_step] + ([f"train-{r.init_from}"] if r.init_from else [])
            self._add(f"train-{r.key}", dict(recipe=r.params(), files=_file_digests(
                r.solver, r.net), device_kind=_device_kind(c.device), seed=c.seed), deps,
                Pipeline._run_train, r.describe())
        for ev in self.evals:
            crops = "crops-hr" if ev.test[0] == "hr" else f"crops-lr-{ev.test[1]}"
            self._add(f"eval-{ev.name}", dict(key=ev.key, test=list(ev.test),
                                              row=list(ev.row)),
                      [f"train-{ev.key}", crops], Pipeline._run_eval,
                      f"evaluate {ev.key} on "
                      + ("HR dev crops" if ev.test[0] == "hr" else f"LR-{ev.test[1]} dev crops"))
        self._add("table", dict(methods=list(c.methods), factors=list(c.factors)),
                  [f"eval-{ev.name}" for ev in self.evals], Pipeline._run_table,
                  "Table 1 (Markdown, CSV, plot)")
        if c.figure4 is not None:
            f4 = c.figure4
            names = []
            for s in f4.get("factors", ()):
                models = self.figure4_models(s)
                if not models:
                    continue
                self._add(f"figure4-s{s}", dict(s=s, qps=list(f4.get("qps", ())),
                                                frame_step=int(f4.get("frame_step", 1)),
                                                models=models),
                          ["crops-hr"] + [f"train-{k}" for k in models.values()],
                          Pipeline._run_figure4_s, f"Figure 4 study at s={s}")
                names.append(f"figure4-s{s}")
            if names:
                self._add("figure4", {}, names, Pipeline._run_figure4, "Figure 4 plots")

    def figure4_models(self, s):
        """``{label: model key}`` of the Figure 4 models trained in this run at factor ``s``."""
        out = {}
        for label, key in (("HR", "hr"), (f"LR-{s}", f"lr-{s}"), (f"Joint-{s}", f"joint-{s}"),
                           ("Joint-OA", "joint-oa")):
            if key in self.recipes:
                out[label] = key
        return out

    # ------------------------------------------------------------------ keys and stamps
    def key(self, name):
        if name not in self._keys:
            st = self.steps[name]
            self._keys[name] = _key({"step": name, "params": st.params,
                                     "deps": {d: self.key(d) for d in st.deps}})
        return self._keys[name]

    def stamp_path(self, name):
        return self.path("stamps", name + ".json")

    def stamp(self, name):
        try:
            with open(self.stamp_path(name), encoding="utf-8") as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def is_done(self, name):
        s = self.stamp(name)
        return s is not None and s.get("key") == self.key(name)

    def outputs(self, name):
        s = self.stamp(name)
        if s is None or s.get("key") != self.key(name):
            raise ReproductionError(f"step {name} has not finished (run the pipeline first)")
        return s["outputs"]

    def _write_stamp(self, name, outputs, seconds):
        from caffe_compat.io.atomic import write_text_atomic
        st = self.steps[name]
        from caffe_compat.numerics import kernel_fingerprint
        body = dict(format=STAMP_FORMAT, step=name, key=self.key(name), params=st.params,
                    deps={d: self.key(d) for d in st.deps}, outputs=outputs,
                    seconds=round(seconds, 3),
                    finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    kernels=kernel_fingerprint())
        write_text_atomic(self.stamp_path(name), json.dumps(body, indent=1, default=str)
                          + "\n")

    def _work_dir(self, name, fresh_marker=True):
        """The step's folder; emptied when it holds the work of another key."""
        folder = self.path("work", name)
        marker = os.path.join(folder, ".key")
        key = self.key(name)
        old = None
        if os.path.isfile(marker):
            with open(marker, encoding="utf-8") as f:
                old = f.read().strip()
        if old != key and os.path.isdir(folder):
            shutil.rmtree(folder)
        os.makedirs(folder, exist_ok=True)
        if old != key and fresh_marker:
            from caffe_compat.io.atomic import write_text_atomic
            write_text_atomic(marker, key + "\n")
        return folder

    # ------------------------------------------------------------------ running
    def order(self, targets=None):
        """Step names in run order (every step after its dependencies); only those needed by
        ``targets`` when given."""
        seen, out = set(), []

        def visit(n):
            if n in seen:
                return
            if n not in self.steps:
                raise ReproductionError(f"unknown step {n!r} (steps: {', '.join(self.steps)})")
            seen.add(n)
            for d in self.steps[n].deps:
                visit(d)
            out.append(n)
        for n in (targets or list(self.steps)):
            visit(n)
        return out

    def write_config(self):
        """``pipeline.json`` (the configuration) and ``kernels.json`` (the CPU kernels of this
        process, :func:`caffe_compat.numerics.kernel_fingerprint`: results reproduce bit for
        bit where it is the same)."""
        from caffe_compat.io.atomic import write_text_atomic
        from caffe_compat.numerics import kernel_fingerprint
        write_text_atomic(self.path("pipeline.json"),
                          json.dumps(self.config.to_json(), indent=1, default=str) + "\n")
        write_text_atomic(self.path("kernels.json"),
                          json.dumps(kernel_fingerprint(), indent=1) + "\n")

    def run(self, targets=None):
        """Run the steps (all, or those ``targets`` need); returns ``{step: outputs}``."""
        os.makedirs(self.out, exist_ok=True)
        self.write_config()
        names = self.order(targets)
        done = {}
        t_all = time.perf_counter()
        for i, name in enumerate(names, 1):
            st = self.steps[name]
            head = f"[{i}/{len(names)}] {name}"
            if self.is_done(name):
                self.log(f"{head}: done earlier, skipped")
                done[name] = self.outputs(name)
                continue
            self.log(f"{head}: {st.title}")
            t0 = time.perf_counter()
            outputs = st.fn(self, st) or {}
            seconds = time.perf_counter() - t0
            self._write_stamp(name, outputs, seconds)
            done[name] = outputs
            self.log(f"{head}: finished in {seconds:.1f} s")
        self.log(f"pipeline: {len(names)} steps in {time.perf_counter() - t_all:.1f} s "
                 f"(outputs under {self.out})")
        return done

    # ------------------------------------------------------------------ step bodies
    def _run_sample(self, st):
        from .sample import make_sample
        root = self.path("sample")
        if os.path.isdir(root):
            shutil.rmtree(root)
        p = dict(st.params)
        size = tuple(p.pop("size", (320, 240)))
        info = make_sample(root, size=size, progress=self.progress, **p)
        return dict(root=root, sequences=info["sequences"])

    def _run_crops_hr(self, st):
        from matlab_ports.prepare_dataset import prepare_dataset
        train, dev = self.sequences()
        out = self._work_dir(st.name)
        prepare_dataset(self.avec_root, out, sequences=list(train + dev),
                        mat_version=self.config.mat_version,
                        video_class=self.config.video_class, progress=self.progress)
        return dict(dir=out, train=list(train), dev=list(dev))

    def _run_crops_lr(self, st):
        hr = self.outputs("crops-hr")
        out = self._work_dir(st.name)
        derive_lr_crops(hr["dir"], out, st.params["s"], hr["train"] + hr["dev"],
                        self.config.mat_version, self.progress)
        return dict(dir=out, train=hr["train"], dev=hr["dev"], s=st.params["s"])

    def _run_h5(self, st):
        from matlab_ports.errors import PortError
        from matlab_ports.prepare_h5_files import prepare_h5_files
        crops = self.outputs(st.deps[0])
        out = self._work_dir(st.name)
        mix = st.params["mix"]
        try:
            res = prepare_h5_files(crops["dir"], out, train=crops["train"], test=crops["dev"],
                                   mix=bool(mix), mix_lr=tuple(mix or (3, 4, 6)),
                                   chunk=st.params["chunk"], seed=st.params["seed"],
                                   progress=self.progress)
        except PortError as e:
            raise ReproductionError(f"{st.name}: {e} (fewer faces than one HDF5 chunk: lower "
                                    "--chunk)") from None
        return dict(train=res["train"].list_file, test=res["test"].list_file,
                    train_samples=int(sum(res["train"].samples)),
                    test_samples=int(sum(res["test"].samples)))

    def _run_sr_patches(self, st):
        from matlab_ports.sr_patches import generate_patches, write_patches
        p = st.params
        out = self._work_dir(st.name)
        train_h5 = os.path.join(out, f"train_lr{p['s']}.h5")
        if p["images"]:
            res = generate_patches(p["images"], train_h5, p["s"], p["stride"],
                                   p["size_input"], p["size_label"], p["chunk"], p["seed"],
                                   progress=self.progress)
            count, stored, source = res.count, res.stored, p["images"]
        else:
            hr = self.outputs("crops-hr")
            plan = face_patch_plan(hr["dir"], hr["train"], p["s"], p["face_step"], p["stride"],
                                   p["size_input"], p["size_label"], self.progress)
            stored = write_patches(plan, train_h5, p["chunk"], p["seed"], self.progress)
            from caffe_compat.io.atomic import write_text_atomic
            write_text_atomic(train_h5[:-3] + ".txt", os.path.abspath(train_h5) + "\n")
            count, source = plan.count, f"{len(plan.images)} training faces"
        test_list = None
        if p["test_images"]:
            test_h5 = os.path.join(out, f"test_lr{p['s']}.h5")
            generate_patches(p["test_images"], test_h5, p["s"], 20, p["size_input"],
                             p["size_label"], 2, p["seed"], progress=self.progress)
            test_list = test_h5[:-3] + ".txt"
        return dict(train=train_h5[:-3] + ".txt", test=test_list, patches=int(count),
                    stored=int(stored), source=source)

    def _run_train(self, st):
        rec = self.recipes[st.name[len("train-"):]]
        data = self.outputs(st.deps[0])
        init = self.outputs(st.deps[1])["weights"] if rec.init_from else None
        work = self._work_dir(st.name)
        res = train_model(rec, data["train"], data.get("test"), work, self.config.device,
                          init, self.config.seed, self.callbacks, self.progress)
        final = self.path("models", rec.key + ".caffemodel")
        from caffe_compat.io.atomic import atomic_path
        with atomic_path(final) as tmp:
            shutil.copyfile(res["weights"], tmp)
        with atomic_path(self.path("models", rec.key + "_loss.csv")) as tmp:
            shutil.copyfile(os.path.join(work, rec.key + "_loss.csv"), tmp)
        _plot_loss(res["history"], self.path("models", rec.key + "_loss.png"),
                   f"{rec.key}: {rec.max_iter} iterations, batch {rec.batch_size or 128}")
        losses = [v for _, v in res["history"]]
        tail = losses[-max(1, len(losses) // 10):]
        out = dict(weights=final, iterations=rec.max_iter, resumed_from=res["resumed_from"],
                   seconds=res["seconds"], loss_first=losses[0] if losses else None,
                   loss_last_10pct=float(np.mean(tail)) if tail else None)
        if rec.method == "srfcn":
            out["conv_weight_std"] = _conv_std(final)
        return out

    def _run_eval(self, st):
        key = st.params["key"]
        rec = self.recipes[key]
        weights = self.outputs(f"train-{key}")["weights"]
        crops = self.outputs(st.deps[1])
        out = self._work_dir(st.name)
        metrics, frames = evaluate(weights, rec.deploy, crops["dir"], crops["dev"], out,
                                   self.config.device, progress=self.progress)
        return dict(dir=out, metrics=metrics, frames=frames, key=key,
                    row=st.params["row"])

    def _run_table(self, st):
        from . import table as T
        ours = {}
        for ev in self.evals:
            o = self.outputs(f"eval-{ev.name}")
            ours[tuple(ev.row)] = o["metrics"]
        files = T.write_table(ours, self.out, methods=self.config.methods,
                              factors=self.config.factors,
                              notes=self.table_notes())
        return dict(files=files, ours={f"{k[0]}|{k[1]}": v for k, v in ours.items()})

    def table_notes(self):
        c = self.config
        sched = c.schedule
        data = "the bundled synthetic sample" if c.sample is not None else \
            f"AVEC 2016 at {os.path.abspath(c.avec)}"
        train, dev = self.sequences()
        lines = [f"Ours: {data}; trained on {len(train)} train sequence(s), tested on "
                 f"{len(dev)} dev sequence(s); schedule '{sched.name}'."]
        for r in self.recipes.values():
            lines.append(r.describe())
        return lines

    def _run_figure4_s(self, st):
        from matlab_ports.matfile import loadmat

        from . import rate_distortion as RD
        p = st.params
        hr = self.outputs("crops-hr")
        seqs = []
        for name in hr["dev"]:
            d = loadmat(os.path.join(hr["dir"], name + ".mat"))
            seqs.append((name, d["video"], np.asarray(d["valence"]).ravel()))
        nets = {label: load_model(self.outputs(f"train-{key}")["weights"],
                                  self.recipes[key].deploy, self.config.device)
                for label, key in p["models"].items()}
        rows = RD.study(seqs, nets, factors=[p["s"]], qps=p["qps"],
                        frame_step=p["frame_step"], progress=self.progress)
        out = self._work_dir(st.name)
        path = RD.write_csv(rows, os.path.join(out, f"figure4_s{p['s']}.csv"))
        return dict(csv=path, rows=rows)

    def _run_figure4(self, st):
        from . import rate_distortion as RD
        rows = []
        for d in st.deps:
            rows.extend(self.outputs(d)["rows"])
        os.makedirs(self.path("figure4"), exist_ok=True)
        csv_path = RD.write_csv(rows, self.path("figure4", "figure4.csv"))
        png = self.path("figure4", "figure4.png")
        bpp = self.path("figure4", "figure4_bpp.png")
        RD.plot(rows, png, bpp)
        return dict(csv=csv_path, png=png, bpp_png=bpp)


def _file_digests(*paths):
    """``{file name: sha256}``: an edited prototxt re-runs the trainings that use it."""
    out = {}
    for p in paths:
        with open(p, "rb") as f:
            out[os.path.basename(p)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _device_kind(device):
    return "cuda" if str(device).startswith("cuda") else "cpu"


def _conv_std(weights):
    """``{layer: std of its weights}`` of a caffemodel's convolutions (how far the SR-FCN
    moved from its fillers)."""
    from caffe_compat.io import caffemodel as cm
    net = cm.read_caffemodel(weights)
    out = {}
    for layer in net.layer:
        if layer.type == "Convolution" and len(layer.blobs):
            out[layer.name] = float(np.std(np.asarray(layer.blobs[0].data, np.float64)))
    return out
