"""The committed reference material (tests/fixtures): complete, unpacked exactly, within budget.

A fresh clone runs every parity test from these files; ../shared is optional (RLQ_FIXTURES=shared
runs the same tests on the full development material).
"""
import hashlib
import json
import os
import pathlib

import numpy as np
import pytest

from tests.conftest import FIXTURES, REPO, fixture_path

# The committed fixtures of all topics together stay under this size (they travel with every
# clone); make_fixtures.py / make_lean.py say how each set was made small.
BUDGET_BYTES = 25 * 2 ** 20


def _fixture_files():
    """Every file of a fixture folder under tests/ (tests/fixtures and the per-topic
    ``fixtures`` / ``*_fixtures`` folders beside the tests)."""
    for p in (REPO / "tests").rglob("*"):
        rel = p.relative_to(REPO / "tests").parts
        if p.is_file() and "__pycache__" not in rel and any(
                part == "fixtures" or part.endswith("_fixtures") for part in rel[:-1]):
            yield p


def test_fixture_size_budget():
    total = sum(p.stat().st_size for p in _fixture_files())
    print(f"fixtures under tests/: {total / 2 ** 20:.1f} MiB")
    assert total <= BUDGET_BYTES, f"the fixtures under tests/ hold {total / 2 ** 20:.1f} MiB"


def test_no_test_reads_shared_material_directly():
    """Parity tests read tests/fixtures (fixture_path); shared_path, which skips without
    ../shared, is for development scripts only."""
    offenders = []
    for path in (REPO / "tests").rglob("*.py"):
        if path.name == "conftest.py" and path.parent == REPO / "tests":
            continue
        if "shared_path(" in path.read_text(encoding="utf-8") and path != pathlib.Path(__file__):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def _digest(a):
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.shape} {a.dtype}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def test_sr_images_unpack_to_the_original_pixels():
    """Every image unpacks to the pixels recorded from the original BMP (make_lean.py)."""
    from matlab_ports import imread
    lines = (FIXTURES / "sr-images" / "pixels.sha256").read_text().splitlines()
    assert len(lines) == 5 + 14 + 91
    for line in lines:
        digest, rel = line.split("  ", 1)
        rel = rel.removesuffix(" (Y)")
        got = imread(fixture_path("sr-images", *rel.split("/")))
        assert _digest(got) == digest, rel


@pytest.mark.parametrize("path", sorted(str(p.relative_to(FIXTURES)) for p in
                                        (FIXTURES / "caffe-reference").rglob("fixture.json")))
def test_caffe_fixtures_say_which_build_and_kernels_wrote_them(path):
    meta = json.loads((FIXTURES / path).read_text())
    assert meta["caffe"].startswith("caffe version 1.0.0")
    assert meta["cpu"] and meta["openblas_core"] and meta["kernel_family"]


def test_exact_gemm_records_name_their_kernel_family():
    info = json.loads((FIXTURES / "caffe-reference" / "exact-gemm-avx512" / "records.json")
                      .read_text())
    assert info["kernel_family"] == "avx512-skylakex" and "AVX-512" in info["written_by"]
    assert len(info["records"]) == len({r["file"] for r in info["records"]})


def test_require_fixtures_turns_a_missing_shared_file_into_a_failure(monkeypatch, tmp_path):
    import tests.conftest as conftest
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.setenv("RLQ_REQUIRE_FIXTURES", "1")
    with pytest.raises(pytest.fail.Exception, match="RLQ_REQUIRE_FIXTURES"):
        conftest.shared_path("caffe-reference")
    monkeypatch.delenv("RLQ_REQUIRE_FIXTURES")
    with pytest.raises(pytest.skip.Exception):
        conftest.shared_path("caffe-reference")


def test_stored_forms_unpack_under_their_plain_names():
    folder = fixture_path("caffe-reference", "forward", "deploy_cnnd")
    assert (folder / "init.caffemodel").is_file()
    assert not any(p.suffix == ".xz" for p in folder.iterdir())
    assert os.path.getsize(folder / "init.caffemodel") > 10 * 2 ** 20     # 96x96 CNN+D
    assert (fixture_path("matlab-reference", "imresize_R2017b") / "baboon.png").is_file()
