"""Shared test helpers: where the reference material lives.

The reference outputs of real Caffe and MATLAB that the parity tests read are committed under
``tests/fixtures/`` in a lean form (see tests/fixtures/README.md): ``fixture_path`` gives them as
ordinary files. ``../shared`` (or ``$RLQ_SHARED``), the full material of the development
machines, is optional: ``shared_path`` gives it and skips without it; ``RLQ_FIXTURES=shared``
runs the fixture tests on it instead of the committed copies; ``RLQ_REQUIRE_FIXTURES=1`` (set
by .ci/run) turns any skip for missing reference material into a failure.

Files that others wrote (public net definitions, the original paper repository's definitions,
the SR benchmark images) are not in the repository: ``public_input`` reads them from
``../shared`` (``public-nets/``, ``original/``, ``sr-images/``), and a test that needs one
skips with one line naming the file where ``../shared`` is absent.
"""
import atexit
import lzma
import os
import pathlib
import shutil
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The solvers make glibc keep freed memory (caffe_compat.kernels.memory); the suite measures memory
# growth per case, so it runs with glibc's defaults (tests/caffe_compat/kernels/test_memory.py checks
# the setting itself in a separate process).
os.environ.setdefault("CAFFE_COMPAT_KEEP_FREED_MEMORY", "0")
# work started early on threads whatever the machine's load (the tests of early work and of
# staged builds expect it; caffe_compat.onnx_path.early.core_free has its own test)
os.environ.setdefault("CAFFE_COMPAT_EARLY", "1")
# The engines' ONNX exports (caffe_compat.inference.engines.cache) go to a folder of this run, never to
# the user's cache; subprocesses of the tests inherit it. Tests that need an empty cache take
# the ``engine_cache`` fixture.
_ENGINE_CACHE = tempfile.mkdtemp(prefix="rlq-engine-cache-")
atexit.register(shutil.rmtree, _ENGINE_CACHE, True)
os.environ["CAFFE_COMPAT_ENGINE_CACHE"] = _ENGINE_CACHE
SHARED = pathlib.Path(os.environ.get("RLQ_SHARED", REPO.parent / "shared"))
FIXTURES = REPO / "tests" / "fixtures"


def shared_path(*parts):
    """Path under ../shared, or skip the test when that material is absent (a fresh clone);
    a failure instead under ``RLQ_REQUIRE_FIXTURES=1``."""
    return _present_or_skip(SHARED.joinpath(*parts), "reference material not available",
                            "parity tests must read tests/fixtures")


def _present_or_skip(p, what, ci_hint):
    """``p`` where it exists; else skip with one line naming it (``what: p``), or fail under
    ``RLQ_REQUIRE_FIXTURES=1`` with ``ci_hint``."""
    if not p.exists():
        msg = f"{what}: {p}"
        if os.environ.get("RLQ_REQUIRE_FIXTURES") == "1":
            pytest.fail(f"{msg} (RLQ_REQUIRE_FIXTURES=1: {ci_hint})")
        pytest.skip(msg)
    return p


# The folders of ../shared that hold others' files, read in place by the tests (public_input):
# models/ holds published trained weights (MTCNN's, MIT).
PUBLIC_INPUTS = ("public-nets", "original", "sr-images", "models")


def public_input(*parts):
    """``../shared/<parts>``, a file written by others that the tests read but the repository
    does not hold (``public-nets/...``, ``original/...``, ``sr-images/...``). Where it is
    absent the test skips with one line naming it; under ``RLQ_REQUIRE_FIXTURES=1`` (CI, which
    has ../shared or $RLQ_SHARED) it fails instead."""
    if not parts or parts[0] not in PUBLIC_INPUTS:
        raise ValueError(f"public_input{parts}: the public inputs are under "
                         f"{', '.join(PUBLIC_INPUTS)} of ../shared")
    return _present_or_skip(SHARED.joinpath(*parts), "public input not available (no ../shared)",
                            "set RLQ_SHARED to the shared folder")


# Stored forms of committed fixtures, unpacked to the name without the suffix: X.xz.
def _unpack_xz(src, dst):
    with lzma.open(src) as f, open(dst, "wb") as out:
        shutil.copyfileobj(f, out)


_TREES = {}


def _tree(top):
    """tests/fixtures/<top> as plain files: a per-session copy with stored forms unpacked."""
    if top not in _TREES:
        src = FIXTURES / top
        if not src.is_dir():
            raise FileNotFoundError(f"no committed fixture folder {src}")
        base = pathlib.Path(tempfile.mkdtemp(prefix="rlq-fixtures-"))
        atexit.register(shutil.rmtree, base, True)
        for dirpath, _, files in os.walk(src):
            rel = pathlib.Path(dirpath).relative_to(src)
            (base / rel).mkdir(parents=True, exist_ok=True)
            for name in files:
                stem, suffix = os.path.splitext(name)
                if suffix == ".xz":
                    _unpack_xz(pathlib.Path(dirpath) / name, base / rel / stem)
                else:
                    shutil.copy2(pathlib.Path(dirpath) / name, base / rel / name)
        _TREES[top] = base
    return _TREES[top]


def fixture_path(*parts):
    """Committed reference material ``tests/fixtures/<parts>`` (same layout as ../shared),
    as plain files; with ``RLQ_FIXTURES=shared``, ../shared's full material instead."""
    if os.environ.get("RLQ_FIXTURES") == "shared":
        return shared_path(*parts)
    p = _tree(parts[0]).joinpath(*parts[1:])
    if not p.exists():
        raise FileNotFoundError(f"{FIXTURES.joinpath(*parts)}: not among the committed "
                                "fixtures (tests/fixtures/README.md lists them)")
    return p


def pytest_addoption(parser):
    parser.addoption("--pycaffe-gpu", choices=("off", "standin", "device"), default="off",
                     help="run tests/pycaffe after caffe.set_mode_gpu(): on the device stand-in "
                          "(host and device copies both on the CPU) or on the CUDA device")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long parity or benchmark-sized runs (not in the "
                            "default suite; run with -m slow)")
    config.addinivalue_line("markers", "timing: a whole run checked against a wall-clock "
                            "promise on a loaded machine (neither in the default suite nor in "
                            "the slow pass; run with -m timing on the machine the promise is "
                            "about)")
    config.addinivalue_line("markers", "cpu_mode: checks pycaffe's CPU mode itself (the array "
                            "engine, set_mode_cpu, a missing device): skipped under --pycaffe-gpu")
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one, saying "
                            "so; benchmarks/gpu_check.sh runs them on a GPU machine: -m cuda)")
    # RLQ_OPENCV_RECORD / RLQ_OPENCV_ONLY: which test files reach OpenCV (tests/opencv_usage.py;
    # .ci/run's OpenCV 4 run repeats only those)
    from tests.opencv_usage import plugin_from_environment
    plugin = plugin_from_environment()
    if plugin is not None:
        config.pluginmanager.register(plugin, "rlq-opencv-usage")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` skip, with their reason, where torch sees no CUDA device (torch is
    imported only when such a test was collected), and where it sees one, the session's float32
    on the device is IEEE (TF32 off); under ``--pycaffe-gpu`` those marked ``cpu_mode`` skip."""
    if config.getoption("--pycaffe-gpu") != "off":
        cpu_only = pytest.mark.skip(reason="checks CPU mode itself (--pycaffe-gpu runs GPU mode)")
        for item in items:
            if item.get_closest_marker("cpu_mode") is not None:
                item.add_marker(cpu_only)
    marked = [item for item in items if item.get_closest_marker("cuda") is not None]
    if not marked and config.getoption("--pycaffe-gpu") != "device":
        return
    import torch
    if torch.cuda.is_available():
        # the device's float32 compared with the CPU's: IEEE float32, as Caffe computes on a
        # GPU (torch lets cuDNN's float32 convolutions use TF32 by default on Ampere and later,
        # about 3 significant digits)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch sees none); run "
                                   "benchmarks/gpu_check.sh on a GPU machine")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture
def engine_cache(tmp_path, monkeypatch):
    """An empty engine cache folder (``CAFFE_COMPAT_ENGINE_CACHE``) for one test."""
    folder = tmp_path / "engine-cache"
    monkeypatch.setenv("CAFFE_COMPAT_ENGINE_CACHE", str(folder))
    return folder

