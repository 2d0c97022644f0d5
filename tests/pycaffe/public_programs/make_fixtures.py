"""Run the pycaffe programs (scripts/, through programs.py) under real BVLC Caffe 1.0 and write
their outputs: fixtures/NAME.npz from the default OpenBLAS set-up, and fixtures/oracle.json with
the build, the set-ups and the spread real Caffe shows against itself on every compared value.

    source PREFIX/env.sh && python3 tests/pycaffe/public_programs/make_fixtures.py [NAME ...]

Real Caffe's pycaffe needs the ``lmdb`` module in its Python for the stand-in LMDBs
(``pip install lmdb`` into the oracle's venv); the public net definitions the programs read
come from ../shared (or ``$RLQ_SHARED``). Each program runs once per OpenBLAS set-up in
its own process (OpenBLAS reads its settings when it loads):

- ``default``: the kernels OpenBLAS picks for this CPU, its default thread count;
- ``one-thread``: ``OPENBLAS_NUM_THREADS=1`` (GEMV/GEMM split differently);
- one per kernel family in CORETYPES (AVX2, AVX and SSE kernels), forced with
  ``OPENBLAS_CORETYPE``, as other machines' builds of the same Caffe run them (other
  blockings, other summation orders).

The programs of the slow suite run under SLOW_VARIANTS only.

The spread of a value is the largest absolute difference between any two of these runs
(``spread.largest`` in oracle.json; each pair is listed too); the tests compare this package
with the default run against it (see the README).
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(HERE.parents[1] / "fixtures"))   # tests/fixtures
from oracle_build import build_info  # noqa: E402  (the provenance of every fixture)
# OpenBLAS kernel families any x86-64 CPU runs (AVX2 and older), each its own blocking
CORETYPES = ("Haswell", "Sandybridge", "Nehalem", "Penryn", "Core2", "Prescott", "Barcelona",
             "Atom")
VARIANTS = {"default": {}, "one-thread": {"OPENBLAS_NUM_THREADS": "1"},
            **{core.lower(): {"OPENBLAS_CORETYPE": core} for core in CORETYPES}}
# the programs of the slow suite (a minute each under the oracle) run under four of them
SLOW_VARIANTS = ("default", "one-thread", "sandybridge", "core2")
SHARED = pathlib.Path(os.environ.get("RLQ_SHARED", HERE.parents[3] / "shared"))


def shared_file(relative):
    """A public input under ../shared; the fixtures cannot be written without it."""
    path = SHARED / relative
    if not path.is_file():
        sys.exit(f"{path}: missing (the public net definitions are read from ../shared, or "
                 "set RLQ_SHARED)")
    return path


def run_one(name, out_path):
    """In this process: run program ``name`` under the importable (real) caffe."""
    repo = HERE.parents[2]
    sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != str(repo)]
    import caffe
    if os.path.abspath(caffe.__file__).startswith(str(repo)):
        sys.exit("run this with real pycaffe (source the oracle's env.sh)")
    sys.path.insert(0, str(HERE))
    import programs
    with tempfile.TemporaryDirectory() as root:
        out = programs.run(name, root, shared_file)
    arrays = {k: (np.array(v) if isinstance(v, str) else v) for k, v in out.items()}
    np.savez_compressed(out_path, **arrays)
    with open(str(out_path) + ".json", "w") as f:
        json.dump(build_info(), f)


def spread(reference, other):
    """{key: largest |difference|} over the numeric arrays; text must be equal."""
    result = {}
    for key in reference.files:
        a, b = reference[key], other[key]
        if a.dtype.kind == "U":
            result[key] = 0.0 if a == b else "differs"
        else:
            result[key] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) \
                if a.size else 0.0
    return result


def main(names):
    sys.path.insert(0, str(HERE))
    import programs
    names = names or sorted(programs.PROGRAMS)
    FIXTURES.mkdir(exist_ok=True)
    meta_path = FIXTURES / "oracle.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"programs": {}}
    meta["programs"] = {k: v for k, v in meta["programs"].items() if k in programs.PROGRAMS}
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            runs = {}
            variants = {v: e for v, e in VARIANTS.items()
                        if name not in programs.SLOW or v in SLOW_VARIANTS}
            for variant, env in variants.items():
                out = pathlib.Path(scratch) / f"{name}-{variant}.npz"
                subprocess.run([sys.executable, __file__, "--run", name, str(out)], check=True,
                               env={**os.environ, "GLOG_minloglevel": "2", **env})
                runs[variant] = out
                print(name, variant, "done", flush=True)
            loaded = {v: np.load(p) for v, p in runs.items()}
            spreads = {f"{a} vs {b}": spread(loaded[a], loaded[b])
                       for i, a in enumerate(variants) for b in list(variants)[i + 1:]}
            spreads["largest"] = {k: max((s[k] for s in spreads.values()),
                                         key=lambda x: float("inf") if isinstance(x, str) else x)
                                  for k in loaded["default"].files}
            (FIXTURES / f"{name}.npz").write_bytes(runs["default"].read_bytes())
            meta["programs"][name] = {
                "openblas_core": {v: json.loads(pathlib.Path(str(p) + ".json").read_text())
                                  ["openblas_core"] for v, p in runs.items()},
                "spread": spreads}
            meta["variants"] = {v: e for v, e in VARIANTS.items()}
            meta["build"] = json.loads(pathlib.Path(str(runs["default"]) + ".json").read_text())
            meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run_one(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1:])
