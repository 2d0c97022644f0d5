"""pycaffe's own test suite (BVLC Caffe's ``python/caffe/test``) run unchanged against this
package's ``caffe``, in CPU mode or in GPU mode.

    python benchmarks/pycaffe_own_suite.py --caffe-src PATH                    # CPU mode
    python benchmarks/pycaffe_own_suite.py --caffe-src PATH --mode standin     # GPU mode, stand-in
    python benchmarks/pycaffe_own_suite.py --caffe-src PATH --mode device      # GPU mode, CUDA

``PATH`` is a BVLC Caffe source tree (a clone of github.com/BVLC/caffe): its
``python/caffe/test`` is the suite, and its ``models/`` and ``examples/`` are what
``test_draw.py`` walks. Nothing of it is copied into this repository: the suite is copied
into a temporary folder laid out as Caffe's tree (``python/caffe/test`` beside ``models`` and
``examples``, no pycaffe of Caffe's own beside it), and pytest runs it there with this
repository first on ``PYTHONPATH``, so ``import caffe`` is this package (the run's header
names the file).

GPU mode: ``caffe.set_mode_gpu()`` is called once before the suite, as a user's program calls
it before its tests; ``test_solver.py``'s ``setUp`` switches to CPU mode itself, as it does
under real Caffe. ``--hold-gpu`` also makes ``set_mode_cpu`` do nothing, so that every test,
the solver's included, runs in GPU mode. The suite imports ``six``; install it where the
interpreter finds it (``pip install six``). Under Python 3.12 and later the unittest aliases
the suite calls (``assertEquals``, ``assertRaisesRegexp``), removed in 3.12, are given back
to ``unittest.TestCase`` for the run. Exit status: pytest's."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# written beside the suite: the mode, before any test module is imported
CONFTEST = '''\
import unittest

import caffe
from caffe import _mode

# the suite was written before Python 3.12, which removed unittest's old aliases
# (assertEquals, assertRaisesRegexp, ...): given back here, so the suite runs unchanged
for _old, _new in (("assertEquals", "assertEqual"), ("assertNotEquals", "assertNotEqual"),
                   ("assertAlmostEquals", "assertAlmostEqual"),
                   ("assertNotAlmostEquals", "assertNotAlmostEqual"),
                   ("assert_", "assertTrue"), ("failUnless", "assertTrue"),
                   ("failIf", "assertFalse"), ("failUnlessEqual", "assertEqual"),
                   ("assertRaisesRegexp", "assertRaisesRegex"),
                   ("assertRegexpMatches", "assertRegex"),
                   ("assertNotRegexpMatches", "assertNotRegex")):
    if not hasattr(unittest.TestCase, _old):
        setattr(unittest.TestCase, _old, getattr(unittest.TestCase, _new))

MODE = {mode!r}
HOLD = {hold!r}
if MODE != "cpu":
    _mode.use_device_standin(MODE == "standin")
    caffe.set_mode_gpu()
    if HOLD:
        caffe.set_mode_cpu = lambda: None
        _mode.set_mode_cpu = lambda: None


def pytest_report_header(config):
    return (f"caffe from {{caffe.__file__}}; mode {{MODE}}"
            f"{{' (set_mode_cpu held off)' if HOLD else ''}}")


def pytest_terminal_summary(terminalreporter):
    if MODE == "cpu":
        return
    import sys
    synced = sys.modules.get("caffe_compat.net.synced")
    copies = synced.COPIES if synced is not None else None
    terminalreporter.write_line(
        "GPU mode's host and device copies: "
        + (f"{{copies.up}} copied up, {{copies.down}} copied down" if copies is not None
           else "none made (no net ran on device copies)"))
'''


def lay_out(caffe_src, folder):
    """Caffe's tree in ``folder``: the suite and the two folders it reads, nothing else."""
    suite = os.path.join(caffe_src, "python", "caffe", "test")
    missing = [p for p in (suite, os.path.join(caffe_src, "models"),
                           os.path.join(caffe_src, "examples")) if not os.path.isdir(p)]
    if missing:
        raise SystemExit(f"pycaffe_own_suite.py: {caffe_src} is not a BVLC Caffe source tree "
                         f"(missing {', '.join(missing)}); give a clone of "
                         "github.com/BVLC/caffe with --caffe-src")
    shutil.copytree(suite, os.path.join(folder, "python", "caffe", "test"))
    for name in ("models", "examples"):
        shutil.copytree(os.path.join(caffe_src, name), os.path.join(folder, name),
                        ignore=shutil.ignore_patterns("*.caffemodel", "*.lmdb", "*.leveldb"))
    return os.path.join(folder, "python", "caffe", "test")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caffe-src", required=True, help="a BVLC Caffe source tree")
    parser.add_argument("--mode", choices=("cpu", "standin", "device"), default="cpu")
    parser.add_argument("--hold-gpu", action="store_true",
                        help="set_mode_cpu does nothing: every test runs in GPU mode")
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest (after --)")
    args = parser.parse_args(argv)
    if args.mode == "device":
        import torch
        if not torch.cuda.is_available():
            raise SystemExit("pycaffe_own_suite.py --mode device: torch sees no CUDA device "
                             "here; --mode standin runs GPU mode's memory rule on the CPU")
    with tempfile.TemporaryDirectory(prefix="pycaffe-suite-") as folder:
        suite = lay_out(os.path.abspath(args.caffe_src), folder)
        with open(os.path.join(suite, "conftest.py"), "w") as f:
            f.write(CONFTEST.format(mode=args.mode, hold=args.hold_gpu))
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + path if path else ""))
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                   "--rootdir", folder, suite, "-W", "ignore::Warning", *args.pytest_args]
        return subprocess.call(command, cwd=folder, env=env)


if __name__ == "__main__":
    sys.exit(main())
