"""The committed reference material (tests/fixtures): complete, unpacked exactly, within budget;
and the files of others that the tests read stay outside the repository, in ../shared.

A fresh clone runs every parity test from these files; ../shared is optional (RLQ_FIXTURES=shared
runs the same tests on the full development material). Public inputs written by others (BVLC's and
SqueezeNet's definitions, the original paper repository's, the SR benchmark images) are read from
../shared through ``public_input``: without it those tests skip, each naming its file.
"""
import hashlib
import importlib.util
import json
import os
import pathlib
import subprocess

import pytest

from tests.conftest import FIXTURES, REPO, fixture_path, public_input

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
    ../shared, is for development scripts only (others' files, which the repository does not
    hold, come through public_input)."""
    offenders = []
    for path in (REPO / "tests").rglob("*.py"):
        if path.name == "conftest.py" and path.parent == REPO / "tests":
            continue
        if "shared_path(" in path.read_text(encoding="utf-8") and path != pathlib.Path(__file__):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def _sr_digests_module():
    spec = importlib.util.spec_from_file_location("sr_images_digests",
                                                  FIXTURES / "sr_images_digests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shared_sr_images_have_the_recorded_pixels():
    """../shared/sr-images holds the images the SR tests' expected values came from: every BMP
    of Set5, Set14 and the 91 training images has the pixels recorded in sr-images.sha256
    (written by sr_images_digests.py), and no image is missing or extra."""
    digests = _sr_digests_module()
    recorded = digests.read_list()
    assert len(recorded) == 5 + 14 + 91
    assert digests.digests(public_input("sr-images")) == recorded


# Folders of others' files that the repository once carried; their files are in ../shared.
REMOVED = ("tests/fixtures/bvlc_nets", "tests/fixtures/original", "tests/fixtures/sr-images",
           "benchmarks/programs/nets")


def test_the_repository_holds_no_public_input_folder():
    assert [f for f in REMOVED if (REPO / f).exists()] == []


def _tracked_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, check=True).stdout.decode()
    return [REPO / f for f in out.split("\0") if f and (REPO / f).is_file()]


def test_no_file_of_the_repository_is_a_public_input():
    """No file of the work tree has the bytes of a file in ../shared/public-nets or
    ../shared/original (definitions, lists, licences of others), whatever its name."""
    theirs = {}
    for top in ("public-nets", "original"):
        for p in public_input(top).rglob("*"):
            if p.is_file() and p.stat().st_size < 2 ** 20 and p.suffix not in (".md",):
                theirs[hashlib.sha256(p.read_bytes()).hexdigest()] = p
    sizes = {p.stat().st_size for p in theirs.values()}
    found = [f"{f.relative_to(REPO)} = {theirs[h]}" for f in _tracked_files()
             if f.stat().st_size in sizes
             and (h := hashlib.sha256(f.read_bytes()).hexdigest()) in theirs]
    assert found == []


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


def test_a_missing_public_input_skips_naming_the_file(monkeypatch, tmp_path):
    """Without ../shared a test reading a public input skips with one line that names the
    file; under RLQ_REQUIRE_FIXTURES=1 (CI) it fails."""
    import tests.conftest as conftest
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.delenv("RLQ_REQUIRE_FIXTURES", raising=False)
    with pytest.raises(pytest.skip.Exception) as e:
        conftest.public_input("original", "deploy", "SRCNN_net.prototxt")
    reason = str(e.value)
    assert "\n" not in reason
    assert reason.endswith(str(tmp_path / "absent" / "original" / "deploy" / "SRCNN_net.prototxt"))
    monkeypatch.setenv("RLQ_REQUIRE_FIXTURES", "1")
    with pytest.raises(pytest.fail.Exception, match="RLQ_REQUIRE_FIXTURES"):
        conftest.public_input("public-nets", "bvlc_nets", "mnist__lenet_train_test.prototxt")
    with pytest.raises(ValueError, match="public-nets"):
        conftest.public_input("caffe-reference")


def test_stored_forms_unpack_under_their_plain_names():
    folder = fixture_path("caffe-reference", "forward", "deploy_cnnd")
    assert (folder / "init.caffemodel").is_file()
    assert not any(p.suffix == ".xz" for p in folder.iterdir())
    assert os.path.getsize(folder / "init.caffemodel") > 10 * 2 ** 20     # 96x96 CNN+D
    assert (fixture_path("matlab-reference", "imresize_R2017b") / "baboon.png").is_file()
