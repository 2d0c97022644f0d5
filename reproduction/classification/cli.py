"""``python -m reproduction classify``: Maclean 2021's protocol (:mod:`.protocol`)."""
from __future__ import annotations

import os
import time

from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["add_parser", "run_command"]


def add_parser(sub):
    c = sub.add_parser("classify", help="Maclean 2021's protocol: 8-class emotion of clips at "
                                        "3 resolutions x 3 frame rates (mean, mode, CNN-LSTM)",
                       description="Maclean 2021's protocol: 8-class emotion of clips at 3 "
                                   "resolutions x 3 frame rates (mean, mode, CNN-LSTM). "
                                   "Duration: on the bundled sample (the default) about 200 s "
                                   "of CPU time, a few minutes on two cores (one run took 4 "
                                   "min 53 s), longer while other work shares them; on the "
                                   "real RAVDESS or FER+ with the full schedule, days on a "
                                   "CPU (docs/classification.md). "
                                   "Resumable: rerun the same command after an interruption.")
    c.add_argument("--out", default="classify_out", help="output folder, resumable "
                                                          "(default classify_out)")
    c.add_argument("--ravdess", default=None,
                   help="RAVDESS root (Actor_NN folders of 02-01-*.mp4); default: the bundled "
                        "labelled sample")
    c.add_argument("--ferplus", default=None,
                   help="folder with fer2013.csv and fer2013new.csv: the per-frame net learns "
                        "FER+'s training faces (7 classes) and Table 1 is on its test faces")
    c.add_argument("--init-weights", default=None, metavar="CAFFEMODEL_OR_KEY",
                   help="with --ferplus: the per-frame net is the seed's ResNet-50, fine-tuned "
                        "on FER+ from this caffemodel (He et al.'s or VGGFace2's layer names) "
                        "or zoo key (resnet50-imagenet, resnet50-vggface2-ft, "
                        "resnet50-vggface2-scratch; fetched first with python -m lq_models "
                        "fetch KEY)")
    c.add_argument("--schedule", choices=("sample", "full"), default=None,
                   help="training sizes (default: sample on the sample, full on RAVDESS)")
    c.add_argument("--actors", type=int, default=6, help="sample: actors (default 6)")
    c.add_argument("--frames", type=int, default=20, help="sample: frames per clip (20)")
    c.add_argument("--folds", type=int, default=3,
                   help="actor-disjoint folds, drawn once into OUT/folds.json (default 3)")
    c.add_argument("--test-fold", type=int, default=0, help="the fold tested (default 0)")
    c.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    c.add_argument("--seed", type=int, default=0, help="sample and folds seed (default 0)")
    c.add_argument("--quiet", action="store_true", help="no progress bars")
    return c


def run_command(args):
    from .protocol import run
    start = time.perf_counter()
    schedule = args.schedule or ("sample" if args.ravdess is None else "full")
    result = run(args.out, args.ravdess, schedule, args.actors, args.frames, args.folds,
                 args.test_fold, args.device, args.seed, progress=bars_wanted(args.quiet),
                 ferplus_dir=args.ferplus, init_weights=args.init_weights)
    print(result["printout"])
    where = os.path.relpath(result["summary"])
    if where.startswith(".."):
        where = result["summary"]
    print(f"\nWrote {where} and "
          f"{len(result['files']) - 1} tables and pictures beside it in "
          f"{time.perf_counter() - start:.0f} s.")
    return 0
