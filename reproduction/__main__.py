"""Command line of the reproduction (also installed as ``lq-emotion``).

    python -m reproduction demo [--out demo_out] [--all-methods] [--device cpu]
    python -m reproduction demo --budget long [--out demo_long]
    python -m reproduction reproduce (--avec DIR | --sample) --out DIR [--factors 3,4,6,8,12,16]
        [--methods hr,lr,nonjoint,joint,joint-oa] [--device cpu|cuda] [--quick]
        [--sr-images DIR] [--qps 12,18,24,30,36,42,48] [--rd-factors 3,4] ...
    python -m reproduction figure4 --out DIR [--qps ...]          (on a reproduce folder)
    python -m reproduction figure4 --crops DIR --weights HR=hr.caffemodel
        --weights LR-3=lr3.caffemodel ... --out DIR [--rd-factors 3,4] [--qps ...]
    python -m reproduction table --out DIR | --paper
    python -m reproduction classify [--out classify_out] [--ravdess DIR]
        (Maclean 2021's 8-class protocol; the bundled labelled sample by default)
    python -m reproduction grid --out DIR [--grid-factors 1,3,6,12] [--divisors 1,2,6]
        (the resolution x frame-rate grid, on a reproduce folder; also `reproduce --grid`,
        and with `--methods ...,lstm,ccc` the CNN-LSTM and the CCC fine-tuned CNN+D)

Bad input (a missing folder, an unknown method, a factor the paper does not use...) prints
``error: ...`` naming the file or option and exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["main", "build_parser"]


def _ints(text, what):
    from .pipeline import ReproductionError
    out = []
    for p in str(text).split(","):
        p = p.strip()
        if not p:
            continue
        try:
            out.append(int(p))
        except ValueError:
            raise ReproductionError(f"{what}: {p!r} is not an integer") from None
    if not out:
        raise ReproductionError(f"{what}: expected a comma-separated list of integers")
    return out


def _iters(text):
    from .pipeline import ReproductionError
    out = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*(\w+)\s*=\s*(\d+)\s*", part)
        if not m:
            raise ReproductionError(f"--iters: {part!r} is not FAMILY=N (families: srfcn, "
                                    "cnnd, nonjoint, joint)")
        out[m.group(1)] = int(m.group(2))
    return tuple(sorted(out.items()))


def _pin_argument(parser):
    from caffe_compat.kernels.numerics import PINS
    parser.add_argument("--pin-kernels", choices=sorted(PINS), default=None,
                        help="run the CPU kernels of this instruction set in torch's ATen, "
                             "oneDNN and MKL (bits then depend less on the machine; see "
                             "docs/reproduction.md)")


def build_parser():
    from . import rate_distortion as RD
    from . import recipes as R
    p = argparse.ArgumentParser(prog="python -m reproduction",
                                description="Reproduce Cheng et al. 2017 (Table 1, Figure 4) "
                                            "end to end.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the whole pipeline on the bundled sample, in minutes")
    d.add_argument("--out", default=None,
                   help="output folder (default demo_out; demo_long with --budget long)")
    d.add_argument("--budget", choices=("demo", "long"), default="demo",
                   help="demo: the 10-minute run (default); long: three seeds of every Table 1 "
                        "model at s = 6, 12, trained longer (about an hour on 2 cores), with "
                        "the verdicts only it can test")
    d.add_argument("--all-methods", action="store_true",
                   help="also train Joint-s and Non-Joint-s (with their SR-FCNs); longer")
    d.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    _pin_argument(d)
    d.add_argument("--temporal", action="store_true",
                   help="also the resolution x frame-rate grid with the CNN-LSTM and the CCC "
                        "fine-tuned model (a few more minutes)")

    r = sub.add_parser("reproduce", help="Table 1 and Figure 4 on AVEC 2016 or the sample")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--avec", help="AVEC 2016 root (recordings_video/, data/bbox/, ...)")
    src.add_argument("--sample", action="store_true",
                     help="generate the bundled AVEC-like sample into OUT/sample and use it")
    r.add_argument("--out", required=True, help="output folder (resumable)")
    r.add_argument("--factors", default=",".join(map(str, R.PAPER_FACTORS)),
                   help="downsampling factors (default 3,4,6,8,12,16)")
    r.add_argument("--methods", default=",".join(R.METHODS),
                   help="comma-separated subset of " + ",".join(R.METHODS))
    r.add_argument("--mix", default=",".join(map(str, R.DEFAULT_MIX)),
                   help="factors Joint-OA mixes (default 3,4,6; its SR-FCN: the largest)")
    r.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    r.add_argument("--quick", action="store_true",
                   help="the 'quick' schedule: every solver's iterations / 100, no test "
                        "passes, SR-FCN at the paper's lr 0.01")
    r.add_argument("--schedule", choices=sorted(R.SCHEDULES), default=None,
                   help="a predefined schedule (full, quick, demo); default full")
    r.add_argument("--iters", default=None,
                   help="iterations per family, e.g. srfcn=30000,cnnd=30000 (overrides)")
    r.add_argument("--batch", type=int, default=None, help="training batch of the CNN+D nets")
    r.add_argument("--sr-batch", type=int, default=None, help="training batch of the SR-FCN")
    r.add_argument("--chunk", type=int, default=None,
                   help="faces per HDF5 chunk (generate_h5's chunksz; default 128)")
    r.add_argument("--sr-lr", default=None, metavar="published|paper|LR",
                   help="SR-FCN base_lr: the published solver's 1e-4, the paper's 0.01, or a "
                        "number")
    r.add_argument("--sr-solver", default=None, choices=R.SR_SOLVERS,
                   help="SR-FCN solver: the published file's SGD with momentum, or Caffe's Adam")
    r.add_argument("--sr-images", default=None,
                   help="folder of .bmp images for SR pre-training (the original 91 'Train' "
                        "images); default: patches of the training faces")
    r.add_argument("--sr-test-images", default=None,
                   help="folder of .bmp images for the SR-FCN's test passes (Set5)")
    r.add_argument("--sr-face-step", type=int, default=10,
                   help="without --sr-images: every N-th training face gives SR patches")
    r.add_argument("--train", default=None, help="training sequences (default: all train_*)")
    r.add_argument("--dev", default=None, help="test sequences (default: all dev_*)")
    r.add_argument("--sample-frames", type=int, default=300,
                   help="with --sample: frames per sequence (300)")
    r.add_argument("--qps", default=",".join(map(str, RD.DEFAULT_QPS)),
                   help="Figure 4 QPs (default 12,18,24,30,36,42,48)")
    r.add_argument("--rd-factors", default="3,4",
                   help="Figure 4 factors (default 3,4; those among --factors)")
    r.add_argument("--rd-frame-step", type=int, default=1,
                   help="Figure 4: evaluate every N-th decoded frame (default 1: all)")
    r.add_argument("--no-figure4", action="store_true", help="skip the Figure 4 study")
    _grid_options(r)
    r.add_argument("--grid", action="store_true",
                   help="run the resolution x frame-rate grid (implied by --methods with lstm "
                        "or ccc)")
    r.add_argument("--seed", type=int, default=1, help="solvers' random_seed (default 1)")
    r.add_argument("--mat-version", choices=("6", "7"), default="6",
                   help="crops .mat format: 6 (uncompressed, fast; default) or 7 (compressed, "
                        "as MATLAB's save)")
    r.add_argument("--video-class", choices=("single", "double"), default="single",
                   help="class of the crops' video: single (default, half the disk) or "
                        "double (as the script saves; the same values)")
    r.add_argument("--dask", default=None, metavar="local[:N]|tcp://HOST:PORT",
                   help="run independent steps concurrently on Dask: 'local' (one worker per "
                        "GPU with --device cuda; local:N for N CPU workers) or a scheduler "
                        "address (a cluster, e.g. Slurm through dask-jobqueue); needs the "
                        "'dask' extra (reproduction/cluster.py)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    _pin_argument(r)

    f = sub.add_parser("figure4", help="the rate-distortion study (Figure 4)")
    f.add_argument("--out", required=True,
                   help="a reproduce output folder, or (with --crops) where to write")
    f.add_argument("--crops", default=None,
                   help="standalone: folder of HR dev crops <seq>.mat (prepare_dataset.m)")
    f.add_argument("--sequences", default=None, help="standalone: crops to use (dev_*)")
    f.add_argument("--weights", action="append", default=[],
                   help="standalone: LABEL=W.caffemodel (HR, LR-3, Joint-3, Joint-OA ...); "
                        "repeat")
    f.add_argument("--qps", default=None, help="QPs (default 12,18,24,30,36,42,48)")
    f.add_argument("--rd-factors", default=None, help="factors (default 3,4)")
    f.add_argument("--rd-frame-step", type=int, default=None,
                   help="evaluate every N-th decoded frame (default 1)")
    f.add_argument("--device", default="cpu", help="standalone: cpu or cuda")
    f.add_argument("--quiet", action="store_true", help="no progress bars")

    gr = sub.add_parser("grid", help="the resolution x frame-rate grid on a reproduce folder")
    gr.add_argument("--out", required=True, help="a reproduce or demo output folder")
    _grid_options(gr)
    gr.add_argument("--quiet", action="store_true", help="no progress bars")

    t = sub.add_parser("table", help="write / print Table 1")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="a reproduce or demo output folder: re-render its Table 1")
    g.add_argument("--paper", action="store_true", help="print the paper's Table 1")
    from .classification.cli import add_parser as _add_classify
    _add_classify(sub)
    return p


def _grid_options(parser):
    parser.add_argument("--grid-factors", default=None,
                        help="grid: spatial factors (default 1,3,6,12; 1 = HR faces)")
    parser.add_argument("--divisors", default=None,
                        help="grid: frame-rate divisors of 25 fps (default 1,2,6)")
    parser.add_argument("--lstm-hidden", type=int, default=None,
                        help="LSTM units (default: the prototxt's 1024)")


def _temporal(args, base=None):
    """The Config's temporal settings from the grid options (over ``base``)."""
    t = dict(base or {})
    if args.grid_factors:
        t["factors"] = _ints(args.grid_factors, "--grid-factors")
    if args.divisors:
        t["divisors"] = _ints(args.divisors, "--divisors")
    if args.lstm_hidden is not None:
        t["hidden"] = args.lstm_hidden
    return t


def _schedule(args):
    from . import recipes as R
    name = args.schedule or ("quick" if args.quick else "full")
    if args.quick and args.schedule and args.schedule != "quick":
        from .pipeline import ReproductionError
        raise ReproductionError(f"--quick and --schedule {args.schedule}: choose one")
    sched = R.SCHEDULES[name]
    changes = {}
    if args.iters:
        changes["iters"] = tuple(sorted({**dict(sched.iters), **dict(_iters(args.iters))}
                                        .items()))
    if args.batch is not None:
        changes["batch"] = args.batch
    if args.sr_batch is not None:
        changes["sr_batch"] = args.sr_batch
    if args.sr_lr is not None:
        changes["sr_lr"] = args.sr_lr
    if args.sr_solver is not None:
        changes["sr_solver"] = args.sr_solver
    if args.chunk is not None:
        changes["chunk"] = args.chunk
    return sched.replace(**changes) if changes else sched


def _reproduce(args):
    from . import recipes as R
    from .pipeline import Config, Pipeline, ReproductionError
    methods = R.parse_methods(args.methods)
    factors = R.parse_factors(args.factors)
    figure4 = None
    if not args.no_figure4:
        rd = [s for s in _ints(args.rd_factors, "--rd-factors")]
        for s in rd:
            if s not in factors:
                raise ReproductionError(f"--rd-factors: s={s} is not among --factors "
                                        f"({','.join(map(str, factors))})")
        figure4 = dict(factors=rd, qps=_ints(args.qps, "--qps"),
                       frame_step=args.rd_frame_step)
    if args.sample_frames < 20:
        raise ReproductionError("--sample-frames: expected at least 20 frames")
    cfg = Config(out=args.out, avec=args.avec,
                 sample=dict(n_train=3, n_dev=3, n_frames=args.sample_frames, seed=0)
                 if args.sample else None,
                 methods=methods, factors=factors, mix=R.parse_factors(args.mix, "--mix"),
                 schedule=_schedule(args), device=args.device, sr_images=args.sr_images,
                 sr_test_images=args.sr_test_images, sr_face_step=args.sr_face_step,
                 train=tuple(_names(args.train)) if args.train else None,
                 dev=tuple(_names(args.dev)) if args.dev else None, figure4=figure4,
                 seed=args.seed, mat_version=args.mat_version, video_class=args.video_class,
                 temporal=_temporal(args) if args.grid or set(methods) & {"lstm", "ccc"}
                 else None)
    pipe = Pipeline(cfg, progress=bars_wanted(args.quiet))
    if args.dask:
        from .cluster import run_on_dask
        run_on_dask(cfg, args.dask)
    else:
        pipe.run()
    files = pipe.outputs("table")["files"]
    with open(files["markdown"], encoding="utf-8") as fh:
        print(fh.read())
    print(f"Table 1: {files['markdown']}, {files['csv']}, {files['png']}")
    if "figure4" in pipe.steps:
        f4 = pipe.outputs("figure4")
        print(f"Figure 4: {f4['png']}, {f4['bpp_png']}, {f4['csv']}")
    if "grid" in pipe.steps:
        _print_grid(pipe.outputs("grid"))
    return 0


def _print_grid(out):
    with open(out["markdown"], encoding="utf-8") as fh:
        print(fh.read())
    print(f"Grid: {out['markdown']}, {out['csv']}, {out['ccc_png']}, {out['cc_png']}")


def _grid(args):
    from .pipeline import Config, Pipeline, ReproductionError
    cfg_path = os.path.join(args.out, "pipeline.json")
    if not os.path.isfile(cfg_path):
        raise ReproductionError(f"--out: {cfg_path} not found; run `reproduce` (or `demo`) "
                                "into this folder first")
    with open(cfg_path, encoding="utf-8") as fh:
        cfg = Config.from_json(json.load(fh))
    cfg.out = args.out
    cfg.temporal = _temporal(args, cfg.temporal)
    pipe = Pipeline(cfg, progress=bars_wanted(args.quiet))
    pipe.run(["grid"])
    _print_grid(pipe.outputs("grid"))
    return 0


def _names(text):
    return [n.strip() for n in str(text).split(",") if n.strip()]


def _figure4(args):
    from . import rate_distortion as RD
    from .pipeline import Config, Pipeline, ReproductionError
    if args.crops is None:
        if args.weights or args.sequences:
            raise ReproductionError("--weights / --sequences need --crops (standalone mode); "
                                    "without --crops, --out must be a reproduce folder")
        cfg_path = os.path.join(args.out, "pipeline.json")
        if not os.path.isfile(cfg_path):
            raise ReproductionError(f"--out: {cfg_path} not found; run `reproduce` (or `demo`) "
                                    "into this folder first, or give --crops and --weights")
        with open(cfg_path, encoding="utf-8") as fh:
            cfg = Config.from_json(json.load(fh))
        f4 = dict(cfg.figure4 or dict(factors=[3, 4], qps=list(RD.DEFAULT_QPS),
                                      frame_step=1))
        if args.qps:
            f4["qps"] = _ints(args.qps, "--qps")
        if args.rd_factors:
            f4["factors"] = _ints(args.rd_factors, "--rd-factors")
        if args.rd_frame_step:
            f4["frame_step"] = args.rd_frame_step
        cfg.figure4 = f4
        cfg.out = args.out
        pipe = Pipeline(cfg, progress=bars_wanted(args.quiet))
        if "figure4" not in pipe.steps:
            raise ReproductionError(f"--rd-factors: no model of this run at s in "
                                    f"{f4['factors']}")
        pipe.run(["figure4"])
        out = pipe.outputs("figure4")
        print(f"Figure 4: {out['png']}, {out['bpp_png']}, {out['csv']}")
        return 0
    return _figure4_standalone(args, RD, ReproductionError)


def _figure4_standalone(args, RD, ReproductionError):
    import numpy as np

    from matlab_ports.matfile import loadmat
    from matlab_ports.run_eval import default_sequences

    from .pipeline import load_model
    if not os.path.isdir(args.crops):
        raise ReproductionError(f"--crops: {args.crops} is not a folder of <seq>.mat crops")
    if not args.weights:
        raise ReproductionError("--weights: give at least one LABEL=W.caffemodel")
    factors = _ints(args.rd_factors or "3,4", "--rd-factors")
    qps = _ints(args.qps, "--qps") if args.qps else list(RD.DEFAULT_QPS)
    step = args.rd_frame_step or 1
    named = []
    for item in args.weights:
        if "=" not in item:
            raise ReproductionError(f"--weights: {item!r} is not LABEL=W.caffemodel")
        label, path = item.split("=", 1)
        if not os.path.isfile(path):
            raise ReproductionError(f"--weights: {path}: no such file (label {label})")
        named.append((label.strip(), path))
    names = _names(args.sequences) if args.sequences else default_sequences(args.crops)
    seqs = []
    for name in names:
        path = os.path.join(args.crops, name + ".mat")
        if not os.path.isfile(path):
            raise ReproductionError(f"--crops: {path}: no such crops file")
        d = loadmat(path)
        if "video" not in d or "valence" not in d:
            raise ReproductionError(f"{path}: expected video and valence variables")
        seqs.append((name, d["video"], np.asarray(d["valence"]).ravel()))
    rows = []
    for s in factors:
        nets = {}
        for label, path in named:
            m = re.search(r"-(\d+)$", label)
            if m and int(m.group(1)) != s:
                continue                 # LR-3 / Joint-3 belong to s = 3 only
            nets[label] = load_model(path, None, args.device)
        if not nets:
            raise ReproductionError(f"--weights: no model for s={s}")
        rows += RD.study(seqs, nets, [s], qps, step, progress=bars_wanted(args.quiet))
    os.makedirs(args.out, exist_ok=True)
    csv_path = RD.write_csv(rows, os.path.join(args.out, "figure4.csv"))
    png = os.path.join(args.out, "figure4.png")
    bpp = os.path.join(args.out, "figure4_bpp.png")
    RD.plot(rows, png, bpp)
    print(f"Figure 4: {png}, {bpp}, {csv_path}")
    return 0


def _table(args):
    from . import table as T
    from .pipeline import Config, Pipeline, ReproductionError
    if args.paper:
        print(T.to_markdown(T.rows({})))
        return 0
    cfg_path = os.path.join(args.out, "pipeline.json")
    if not os.path.isfile(cfg_path):
        raise ReproductionError(f"--out: {cfg_path} not found; run `reproduce` or `demo` into "
                                "this folder first")
    with open(cfg_path, encoding="utf-8") as fh:
        cfg = Config.from_json(json.load(fh))
    cfg.out = args.out
    pipe = Pipeline(cfg, progress=False, log=lambda line: None)
    missing = [n for n in pipe.order(["table"]) if n.startswith("eval-") and
               not pipe.is_done(n)]
    if missing:
        raise ReproductionError(f"--out: {len(missing)} evaluation(s) of this run have not "
                                f"finished (first: {missing[0]}); rerun `reproduce`")
    ours = {tuple(ev.row): pipe.outputs(f"eval-{ev.name}")["metrics"] for ev in pipe.evals}
    files = T.write_table(ours, pipe.out, cfg.methods, cfg.factors, pipe.table_notes())
    with open(files["markdown"], encoding="utf-8") as fh:
        print(fh.read())
    print(f"Table 1: {files['markdown']}, {files['csv']}, {files['png']}")
    return 0


def main(argv=None):
    """Entry point; returns the exit status (1 on bad input, with the reason on stderr)."""
    from caffe_compat.errors import CaffeCompatError
    from matlab_ports.errors import PortError

    from .demo import run_demo
    from .pipeline import ReproductionError
    from .rate_distortion import RDError
    from .recipes import RecipeError
    args = build_parser().parse_args(argv)
    if getattr(args, "pin_kernels", None):
        from caffe_compat.kernels.numerics import pin_kernels
        pin_kernels(args.pin_kernels)
    try:
        out = getattr(args, "out", None)
        if args.command == "demo" and out is None:
            out = "demo_long" if args.budget == "long" else "demo_out"
        if out and os.path.exists(out) and not os.path.isdir(out):
            raise ReproductionError(f"--out {out}: a file is there; the {args.command} command "
                                    "writes a folder (give a new folder or an existing one)")
        if args.command == "demo" and args.budget == "long":
            from .long_budget import run_long
            run_long(args.out or "demo_long", device=args.device, progress=bars_wanted(args.quiet))
            return 0
        if args.command == "demo":
            run_demo(args.out or "demo_out", device=args.device, all_methods=args.all_methods,
                     progress=bars_wanted(args.quiet), temporal=args.temporal)
            return 0
        if args.command == "reproduce":
            return _reproduce(args)
        if args.command == "figure4":
            return _figure4(args)
        if args.command == "grid":
            return _grid(args)
        if args.command == "classify":
            from .classification.cli import run_command
            return run_command(args)
        return _table(args)
    except (ReproductionError, RecipeError, RDError, PortError, CaffeCompatError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
