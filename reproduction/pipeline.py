"""The whole reproduction as resumable steps: data, SR pre-training, training, evaluation,
Table 1, Figure 4 and the temporal steps of :mod:`reproduction.grid_steps` (added by it).

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
(``kernels.json`` and every stamp record them; :mod:`caffe_compat.kernels.numerics`).
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import time

import numpy as np

from . import grid_steps, recipes as R
from .crops import degrade_video, derive_lr_crops, face_patch_plan, sequence_names
from .errors import ReproductionError
from .evaluation import conv_weight_std, evaluate, load_model
from .frames import predict_frames
from .training import _plot_loss, latest_snapshot, train_model

__all__ = ["ReproductionError", "Config", "Step", "Pipeline", "predict_frames",
           "degrade_video", "derive_lr_crops", "face_patch_plan", "sequence_names",
           "latest_snapshot"]

STAMP_FORMAT = "reproduction.stamp/1"


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
    temporal: dict | None = None

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
        grid_steps.add_steps(self)

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
        from caffe_compat.kernels.numerics import kernel_fingerprint
        st = self.steps[name]
        body = dict(format=STAMP_FORMAT, step=name, key=self.key(name), params=st.params,
                    deps={d: self.key(d) for d in st.deps}, outputs=outputs,
                    seconds=round(seconds, 3), finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
        """``pipeline.json`` and ``kernels.json`` (caffe_compat.kernels.numerics.kernel_fingerprint)."""
        from caffe_compat.io.atomic import write_text_atomic
        from caffe_compat.kernels.numerics import kernel_fingerprint
        for name, body in (("pipeline.json", self.config.to_json()),
                           ("kernels.json", kernel_fingerprint())):
            write_text_atomic(self.path(name), json.dumps(body, indent=1, default=str) + "\n")

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
            out["conv_weight_std"] = conv_weight_std(final)
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
        preds = {}
        rows = RD.study(seqs, nets, factors=[p["s"]], qps=p["qps"],
                        frame_step=p["frame_step"], progress=self.progress, predictions=preds)
        out = self._work_dir(st.name)
        path = RD.write_csv(rows, os.path.join(out, f"figure4_s{p['s']}.csv"))
        return dict(csv=path, rows=rows, predictions=RD.write_predictions(
            preds, os.path.join(out, "predictions.json")))

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

