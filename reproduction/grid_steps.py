"""The temporal steps of the pipeline: the CCC fine-tuning, the CNN-LSTM and the resolution x
frame-rate grid (:mod:`reproduction.grid`), added to a :class:`reproduction.pipeline.Pipeline`
by :func:`add_steps` when its methods name ``lstm`` or ``ccc`` or its config has ``temporal``
settings:

=====================  ======================================================================
``train-ccc``          the base CNN+D (Joint-OA when trained, else HR) fine-tuned on CCCLoss:
                       ``cnnd_ccc_train_val`` / ``cnnd_ccc_solver``, every layer initialised
                       from the base model, on the base model's HDF5 training files
``train-ccc-control``  the same fine-tuning with CNN+D's EuclideanLoss (``cnnd_train_val``):
                       what the CCC objective is compared with (same data, iterations, rate)
``lstm-data``          the base model's fc4 features of the training sequences at every grid
                       factor, cut into T-step windows of the received frames at every frame
                       rate, in the time-major HDF5 layout of ``cnn_lstm_train_val``
``train-lstm``         the CNN-LSTM, ``cnn_lstm_train_val`` / ``cnn_lstm_solver`` (Adam)
``grid-s<s>``          every model on the dev faces degraded by s at every frame rate
``grid``               ``grid/grid.csv``, ``grid/grid.md``, ``grid/grid_ccc.png``,
                       ``grid/grid_cc.png``
=====================  ======================================================================

They follow the pipeline's rules (keys, stamps, atomic outputs, training resumed from its
last snapshot). The ``temporal`` settings (:data:`DEFAULTS`): ``factors`` and ``divisors`` of
the grid, ``window`` (frames of the mean / median window), ``T`` (LSTM sequence length),
``stride`` (received frames between training windows), ``streams`` (sequences side by side
in a training batch), ``hidden`` (LSTM units; None: the prototxt's 1024), ``ccc_batch``
(faces per CCC batch; None: the schedule's batch).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from . import grid as G
from . import recipes as R
from .errors import ReproductionError

__all__ = ["DEFAULTS", "settings", "add_steps", "base_model", "findings"]

DEFAULTS = dict(factors=list(G.GRID_FACTORS), divisors=list(G.GRID_DIVISORS), window=25,
                T=30, stride=10, streams=16, hidden=None, ccc_batch=None)
_LABEL = {"hr": "HR", "joint-oa": "Joint-OA"}


def settings(config):
    """The temporal settings of a Config (:data:`DEFAULTS` completed), or None when the run
    has no temporal work."""
    wanted = config.temporal is not None or any(m in config.methods
                                                for m in R.OPTIONAL_METHODS)
    if not wanted:
        return None
    t = dict(DEFAULTS, **(config.temporal or {}))
    unknown = sorted(set(t) - set(DEFAULTS))
    if unknown:
        raise ReproductionError(f"temporal settings: unknown {', '.join(unknown)} (known: "
                                f"{', '.join(DEFAULTS)})")
    for s in t["factors"]:
        if not isinstance(s, int) or s < 1 or 96 % s:
            raise ReproductionError(f"--grid-factors: {s!r} does not divide 96 (expected "
                                    "factors such as 1, 3, 6, 12)")
    for r in t["divisors"]:
        if not isinstance(r, int) or r < 1:
            raise ReproductionError(f"--divisors: {r!r} is not a positive integer")
    for k in ("window", "T", "stride", "streams"):
        if not isinstance(t[k], int) or t[k] < 1:
            raise ReproductionError(f"temporal setting {k}: expected a positive integer, got "
                                    f"{t[k]!r}")
    return t


def base_model(pipe):
    """The CNN+D whose features and training the temporal models build on."""
    for key in ("joint-oa", "hr"):
        if key in pipe.recipes:
            return key
    raise ReproductionError("--methods lstm / ccc and the grid need a trained HR or Joint-OA "
                            "model: add hr or joint-oa to --methods")


def _data_step(rec):
    kind = rec.data[0]
    if kind == "hr":
        return "h5-hr"
    if kind == "lr":
        return f"h5-lr-{rec.data[1]}"
    return "h5-mix-" + "-".join(map(str, rec.data[1]))


def _recipe(pipe, key, base, t):
    """The Recipe of ``train-ccc`` or ``train-lstm`` under the run's schedule."""
    from lq_models import prototxt_path
    from .recipes import _solver_max_iter, _solver_snapshot
    sched = pipe.config.schedule
    name = {"ccc": "cnnd_ccc", "lstm": "cnn_lstm"}[key]
    solver = str(prototxt_path(f"{name}_solver.prototxt"))
    solver_max = _solver_max_iter(solver)
    max_iter = sched.iterations(key, solver_max)
    snapshot = max(1, min(sched.snapshot or _solver_snapshot(solver) or max_iter, max_iter))
    return R.Recipe(
        key=key, method=key, family=key, factor=None,
        data=("seq",) if key == "lstm" else pipe.recipes[base].data, solver=solver,
        net=str(prototxt_path(f"{name}_train_val.prototxt")),
        deploy=str(prototxt_path("cnnd_deploy.prototxt" if key == "ccc"
                                 else "cnn_lstm_deploy.prototxt")),
        init_from=None, init_layers=(), lr_mult=None,
        solver_max_iter=solver_max, max_iter=max_iter,
        batch_size=(t["ccc_batch"] or sched.batch) if key == "ccc" else t["T"],
        base_lr=None, weight_filler=None, snapshot=snapshot, test=False, table_rows=())


def add_steps(pipe):
    """Add the temporal steps (module doc) to ``pipe`` when its config asks for them."""
    from lq_models import prototxt_path
    c = pipe.config
    t = settings(c)
    if t is None:
        return
    base = base_model(pipe)
    pipe.temporal = dict(t, base=base)
    pipe.temporal_recipes = {}
    dev = "cuda" if str(c.device).startswith("cuda") else "cpu"
    if "ccc" in c.methods:
        rec = _recipe(pipe, "ccc", base, t)
        # the control: the same fine-tuning with the EuclideanLoss of CNN+D
        control = dataclasses.replace(rec, key="ccc-control", method="ccc-control", net=str(
            prototxt_path("cnnd_train_val.prototxt")))
        for key, r, what in (("ccc", rec, "CCCLoss"), ("ccc-control", control,
                                                       "EuclideanLoss (control)")):
            pipe.temporal_recipes[key] = r
            pipe._add(f"train-{key}", dict(recipe=r.params(), files=_file_digests(r.solver,
                                                                                  r.net),
                                           device_kind=dev, seed=c.seed),
                      [_data_step(pipe.recipes[base]), f"train-{base}"], _run_train_ccc,
                      f"{_LABEL[base]} fine-tuned on {what}")
    if "lstm" in c.methods:
        rec = _recipe(pipe, "lstm", base, t)
        pipe.temporal_recipes["lstm"] = rec
        pipe._add("lstm-data", dict(factors=t["factors"], divisors=t["divisors"], T=t["T"],
                                    stride=t["stride"], streams=t["streams"], seed=0),
                  ["crops-hr", f"train-{base}"], _run_lstm_data,
                  f"fc4 features of {_LABEL[base]}: LSTM training sequences")
        pipe._add("train-lstm", dict(recipe=rec.params(), hidden=t["hidden"],
                                     files=_file_digests(rec.solver, rec.net),
                                     device_kind=dev, seed=c.seed),
                  ["lstm-data"], _run_train_lstm, "CNN-LSTM (Adam)")
    names = []
    for s in t["factors"]:
        models = grid_models(pipe, s)
        deps = ["crops-hr"] + [f"train-{k}" for k in dict.fromkeys(models.values())]
        if "lstm" in c.methods:
            deps.append("train-lstm")
        pipe._add(f"grid-s{s}", dict(s=s, divisors=t["divisors"], models=models,
                                     window=t["window"], T=t["T"], hidden=t["hidden"],
                                     base=base, lstm="lstm" in c.methods),
                  deps, _run_grid_s, f"grid at s={s}: every frame rate")
        names.append(f"grid-s{s}")
    pipe._add("grid", {}, names, _run_grid, "grid table and heat maps")


def _file_digests(*paths):
    """``{file name: sha256}``: an edited prototxt re-runs the trainings that use it."""
    import hashlib
    out = {}
    for p in paths:
        with open(p, "rb") as f:
            out[os.path.basename(p)] = hashlib.sha256(f.read()).hexdigest()
    return out


def grid_models(pipe, s):
    """``{label: model key}`` of the per-frame models of the grid at factor ``s``."""
    out = {}
    if "hr" in pipe.recipes:
        out["HR"] = "hr"
    for method, label in (("lr", "LR-s"), ("joint", "Joint-s")):
        if f"{method}-{s}" in pipe.recipes:
            out[label] = f"{method}-{s}"
    if "joint-oa" in pipe.recipes:
        out["Joint-OA"] = "joint-oa"
    if "ccc" in pipe.config.methods:
        out[f"{_LABEL[pipe.temporal['base']]}+CCC"] = "ccc"
        out[f"{_LABEL[pipe.temporal['base']]}+Eucl-ft"] = "ccc-control"
    return out


def _weights(pipe, key):
    return pipe.outputs(f"train-{key}")["weights"]


def _deploy(pipe, key):
    rec = pipe.recipes.get(key) or pipe.temporal_recipes[key]
    return rec.deploy


def _train(pipe, st, rec, train_list, init):
    import shutil

    from caffe_compat.io.atomic import atomic_path

    from .training import _plot_loss, train_model
    work = pipe._work_dir(st.name)
    res = train_model(rec, train_list, None, work, pipe.config.device, init, pipe.config.seed,
                      pipe.callbacks, pipe.progress)
    final = pipe.path("models", rec.key + ".caffemodel")
    with atomic_path(final) as tmp:
        shutil.copyfile(res["weights"], tmp)
    with atomic_path(pipe.path("models", rec.key + "_loss.csv")) as tmp:
        shutil.copyfile(os.path.join(work, rec.key + "_loss.csv"), tmp)
    _plot_loss(res["history"], pipe.path("models", rec.key + "_loss.png"),
               f"{rec.key}: {rec.max_iter} iterations, batch {rec.batch_size}")
    losses = [v for _, v in res["history"]]
    tail = losses[-max(1, len(losses) // 10):]
    return dict(weights=final, iterations=rec.max_iter, resumed_from=res["resumed_from"],
                seconds=res["seconds"], loss_first=losses[0] if losses else None,
                loss_last_10pct=float(np.mean(tail)) if tail else None)


def _run_train_ccc(pipe, st):
    rec = pipe.temporal_recipes[st.name[len("train-"):]]
    data = pipe.outputs(st.deps[0])
    return _train(pipe, st, rec, data["train"], _weights(pipe, pipe.temporal["base"]))


def _load_crops(pipe, names, s):
    """``[(name, video (96x96xN), valence)]`` of crops ``names`` degraded by ``s``."""
    from matlab_ports.matfile import loadmat

    from .crops import degrade_video
    hr = pipe.outputs("crops-hr")
    out = []
    for name in names:
        d = loadmat(os.path.join(hr["dir"], name + ".mat"))
        video = np.asarray(d["video"], np.float32)
        out.append((name, video if s == 1 else degrade_video(video, s),
                    np.asarray(d["valence"], np.float64).ravel()))
    return out


def _run_lstm_data(pipe, st):
    from tqdm import tqdm

    from .evaluation import load_model
    from .temporal import features_and_predictions, received, windows, write_sequences
    p = st.params
    base = pipe.temporal["base"]
    net = load_model(_weights(pipe, base), _deploy(pipe, base), pipe.config.device)
    wins = []
    names = pipe.outputs("crops-hr")["train"]
    for s in tqdm(p["factors"], desc="LSTM features", unit="factor",
                  disable=not pipe.progress, leave=False):
        for _, video, valence in _load_crops(pipe, names, s):
            feats, _ = features_and_predictions(net, video)
            for r in p["divisors"]:
                wins += windows(feats, valence, received(len(valence), r), p["T"],
                                p["stride"])
    out = pipe._work_dir(st.name)
    listing = write_sequences(wins, os.path.join(out, "train_seq.h5"), p["streams"],
                              p["seed"])
    return dict(train=listing, windows=len(wins))


def _run_train_lstm(pipe, st):
    from caffe_compat.io.atomic import write_text_atomic
    from caffe_compat.io.prototxt import read_net
    from google.protobuf import text_format
    rec = pipe.temporal_recipes["lstm"]
    hidden = st.params["hidden"]
    if hidden:
        # a run that trains another LSTM size than the file's: the same net, num_output changed
        net = read_net(rec.net)
        for lp in net.layer:
            if lp.type == "LSTM":
                lp.recurrent_param.num_output = int(hidden)
        path = pipe.path("work", st.name + "-net", "cnn_lstm_train_val.prototxt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_text_atomic(path, text_format.MessageToString(net))
        rec = dataclasses.replace(rec, net=path)
    return _train(pipe, st, rec, pipe.outputs("lstm-data")["train"], None)


def _run_grid_s(pipe, st):
    from tqdm import tqdm

    from .evaluation import load_model
    from .frames import predict_frames
    from .temporal import features_and_predictions, lstm_net, lstm_predict, window_aggregate
    p = st.params
    s, base = p["s"], p["base"]
    seqs = _load_crops(pipe, pipe.outputs("crops-hr")["dev"], s)
    gold = [g for _, _, g in seqs]
    per_frame, feats = {}, None
    for label, key in tqdm(p["models"].items(), desc=f"grid s={s}", unit="model",
                           disable=not pipe.progress, leave=False):
        net = load_model(_weights(pipe, key), _deploy(pipe, key), pipe.config.device)
        if key == base:
            both = [features_and_predictions(net, v) for _, v, _ in seqs]
            feats = [f for f, _ in both]
            per_frame[label] = [y for _, y in both]
        else:
            per_frame[label] = [predict_frames(net, v) for _, v, _ in seqs]
    temporal = {}
    bl = _LABEL[base]
    if bl in per_frame:
        bp = per_frame[bl]
        for how in ("mean", "median"):
            temporal[f"{bl}+{how}"] = (lambda i, idx, how=how: window_aggregate(
                bp[i][idx], idx, p["window"], how))
    if p["lstm"]:
        net = lstm_net(_deploy(pipe, "lstm"), _weights(pipe, "lstm"), p["T"], p["hidden"],
                       pipe.config.device)
        temporal[f"{bl}+LSTM"] = lambda i, idx: lstm_predict(net, feats[i][idx], p["T"])
    rows = G.evaluate_s(s, gold, per_frame, temporal, p["divisors"])
    out = pipe._work_dir(st.name)
    return dict(csv=G.write_csv(rows, os.path.join(out, f"grid_s{s}.csv")), rows=rows)


def _run_grid(pipe, st):
    from caffe_compat.io.atomic import write_text_atomic
    rows = []
    for d in st.deps:
        rows.extend(pipe.outputs(d)["rows"])
    folder = pipe.path("grid")
    os.makedirs(folder, exist_ok=True)
    found = findings(rows, _LABEL[pipe.temporal["base"]])
    notes = [f"Dev sequences: {', '.join(pipe.outputs('crops-hr')['dev'])}; predictions "
             "held between received frames; metrics of run_eval.m on the full time grid. "
             f"Temporal models over the fc4 features of {_LABEL[pipe.temporal['base']]}; "
             f"mean / median window {pipe.temporal['window']} frames."] + \
        [f"- {line}" for line in found]
    csv_path = G.write_csv(rows, os.path.join(folder, "grid.csv"))
    md = os.path.join(folder, "grid.md")
    write_text_atomic(md, G.to_markdown(rows, notes) + "\n")
    ccc_png = G.plot(rows, os.path.join(folder, "grid_ccc.png"), "ccc")
    cc_png = G.plot(rows, os.path.join(folder, "grid_cc.png"), "cc")
    return dict(csv=csv_path, markdown=md, ccc_png=ccc_png, cc_png=cc_png, findings=found)


def _mean(rows, model, divisor, metric="ccc"):
    v = [r[metric] for r in rows if r["model"] == model and r["divisor"] == divisor
         and not np.isnan(r[metric])]
    return float(np.mean(v)) if v else float("nan")


def findings(rows, base_label):
    """Plain-language findings of the grid rows: how CCC falls from the highest to the lowest
    frame rate for the per-frame base model and the temporal models (mean over the
    resolutions), and CCC of the CCC-trained model against its Euclidean base."""
    lines = []
    divisors = sorted({r["divisor"] for r in rows})
    hi, lo = divisors[0], divisors[-1]
    models = list(dict.fromkeys(r["model"] for r in rows))
    for m in [base_label] + [x for x in models if x.startswith(base_label + "+")
                             and not x.endswith(("+CCC", "+Eucl-ft"))]:
        if m not in models:
            continue
        a, b = _mean(rows, m, hi), _mean(rows, m, lo)
        lines.append(f"{m}: mean CCC over the resolutions {a:.3f} at {G.FPS / hi:.3g} fps, "
                     f"{b:.3f} at {G.FPS / lo:.3g} fps ({b - a:+.3f}).")
    lstm = f"{base_label}+LSTM"
    if lstm in models and base_label in models:
        d_lstm = _mean(rows, lstm, lo) - _mean(rows, lstm, hi)
        d_base = _mean(rows, base_label, lo) - _mean(rows, base_label, hi)
        better = d_lstm > d_base
        lines.append(f"As the frame rate drops to {G.FPS / lo:.3g} fps the LSTM's CCC changes "
                     f"by {d_lstm:+.3f}, per-frame {base_label}'s by {d_base:+.3f}: the LSTM "
                     + ("holds up better." if better else "does not hold up better.")
                     + f" LSTM minus per-frame, mean CCC at {G.FPS / lo:.3g} fps: "
                     f"{_mean(rows, lstm, lo) - _mean(rows, base_label, lo):+.3f}.")
    ccc = f"{base_label}+CCC"
    for ref, what in ((f"{base_label}+Eucl-ft", "the same fine-tuning on EuclideanLoss"),
                      (base_label, "the Euclidean base model")):
        if ccc not in models or ref not in models:
            continue
        a, b = _mean(rows, ref, hi), _mean(rows, ccc, hi)
        cells = [(r["s"], r["divisor"]) for r in rows if r["model"] == ccc]
        wins = sum(1 for s, d in cells if _cell_ccc(rows, ccc, s, d) > _cell_ccc(rows, ref, s, d))
        lines.append(f"CCC objective: {ccc} mean CCC {b:.3f} vs {a:.3f} for {ref} ({what}) "
                     f"at {G.FPS / hi:.3g} fps ({b - a:+.3f}); higher in {wins} of "
                     f"{len(cells)} grid cells.")
    return lines


def _cell_ccc(rows, model, s, d):
    for r in rows:
        if r["model"] == model and r["s"] == s and r["divisor"] == d:
            return r["ccc"]
    return float("nan")
