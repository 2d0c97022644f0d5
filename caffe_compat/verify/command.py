"""``caffe-compat verify --caffe PATH``: the parity checks, run live against a user's Caffe.

For every layer type registered here that the build also knows, small generated nets
(``examples.EXAMPLES``) run forward and backward in both engines; two short training runs (SGD
with a step policy, Adam) compare every iteration's loss and the weights after 10 and 20
iterations; every case's caffemodel goes both ways (Caffe reads ours, we read Caffe's and write
its bytes again); the data layers (Data over a generated LMDB, ImageData, WindowData over
generated PNG images, HDF5Data) must give Caffe's batches exactly after the same seed. Printed:
docs/parity.md's parity table with this build's figures, then every layer type where the build
departs. Exit status 0 when every row holds, 1 otherwise.
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys
import tempfile

HELP = "re-run the parity checks live against your own Caffe build"


def add_arguments(p):
    p.add_argument("--caffe", "-caffe", required=True, metavar="PATH",
                   help="the build's caffe binary (PREFIX/bin/caffe, build/tools/caffe) or its "
                        "pycaffe folder (PREFIX/python)")
    p.add_argument("--python", "-python", metavar="EXE",
                   help="Python that imports that pycaffe (default: the one next to the build, "
                        "else python3)")
    p.add_argument("--types", "-types", metavar="T1,T2",
                   help="check only these layer types (default: every type both know)")
    p.add_argument("--workdir", metavar="DIR",
                   help="keep the exchanged files here (default: a temporary folder, removed)")
    p.add_argument("--no-training", action="store_true", help="skip the training runs")


def run_verify(args):
    from .build import Worker, locate
    from .checks import (compare_layer_case, compare_training, layer_cases,
                         prepare_layer_case, prepare_training)
    from .examples import NOT_GENERATED
    from .report import render, summarise
    from ..layers import registered_types

    build = locate(args.caffe, args.python)
    with tempfile.TemporaryDirectory(prefix="caffe-compat-verify-") as tmp:
        work = pathlib.Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        worker = Worker(build, work)
        (work / "info").mkdir(exist_ok=True)
        info = worker.run([{"id": "info", "kind": "info", "dir": str(work / "info")}])["info"]
        if not info.get("ok"):
            print(f"caffe-compat verify: pycaffe of {build.pycaffe} failed: {info.get('error')}",
                  file=sys.stderr)
            return 1
        theirs = set(info["layer_types"])
        ours = set(registered_types())
        both = sorted(ours & theirs)
        if args.types:
            wanted = [t.strip() for t in args.types.split(",") if t.strip()]
            unknown = [t for t in wanted if t not in both]
            if unknown:
                print(f"caffe-compat verify: not a type both engines know: {unknown}",
                      file=sys.stderr)
                return 1
            both = wanted
        not_generated = dict(NOT_GENERATED)
        if importlib.util.find_spec("lmdb") is None:
            not_generated["Data"] = ("writing its LMDB needs py-lmdb: pip install "
                                     "'robust-lq-emotion[data]'")
        skipped = [(t, why) for t, why in not_generated.items() if t in both]
        if not args.types:
            skipped += [(t, "not in this build") for t in sorted(ours - theirs)]
            skipped += [(t, "not implemented by caffe_compat") for t in sorted(theirs - ours)
                        if t not in not_generated]
        both = [t for t in both if t not in not_generated]
        print(f"caffe-compat verify: {len(both)} layer types against {build.pycaffe} ...",
              file=sys.stderr)

        cases, tasks, results = layer_cases(both, work), [], []
        for t, i, ex, folder in cases:
            prepared = prepare_layer_case(t, i, ex, folder)
            if isinstance(prepared, dict):
                tasks.append(prepared)
            else:
                results.append(prepared)
        runs = () if args.no_training else ("sgd", "adam")
        tasks += [prepare_training(name, work / "train" / name) for name in runs]
        status = worker.run(tasks)
        failed_early = {(r.type, r.index) for r in results}
        for t, i, ex, folder in cases:
            if (t, i) not in failed_early:
                results.append(compare_layer_case(t, i, ex, folder,
                                                  status.get(f"{t}/{i}", {})))
        trainings = {name: compare_training(name, work / "train" / name,
                                            status.get(f"train/{name}", {})) for name in runs}
        rows, departures = summarise(sorted(results, key=lambda r: (r.type, r.index)),
                                     trainings, info.get("openblas_core"))
        version = build.version() or f"pycaffe {info.get('version')}"
        header = [f"Caffe build: {build.binary or build.pycaffe} ({version})",
                  f"pycaffe: {build.pycaffe} (Python {info.get('python')}, numpy "
                  f"{info.get('numpy')}); BLAS: OpenBLAS core {info.get('openblas_core')}"]
        print(render(rows, departures, header, skipped))
        return 0 if all(ok is not False for _, _, ok in rows.values()) and not departures \
            else 1

