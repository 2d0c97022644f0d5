"""Shared test helpers: where the reference material lives, and clean skips without it."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The solvers make glibc keep freed memory (caffe_compat.memory); the suite measures memory
# growth per case, so it runs with glibc's defaults (tests/caffe_compat/test_memory.py checks
# the setting itself in a separate process).
os.environ.setdefault("CAFFE_COMPAT_KEEP_FREED_MEMORY", "0")
SHARED = pathlib.Path(os.environ.get("RLQ_SHARED", REPO.parent / "shared"))


def shared_path(*parts):
    """Path under ../shared, or skip the test when that material is absent (a fresh clone)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"reference material not available: {p}")
    return p


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long parity or benchmark-sized runs (not in the "
                            "default suite; run with -m slow)")
