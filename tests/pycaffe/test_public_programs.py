"""Whole pycaffe programs of our own (public_programs/scripts, README.md there: classification
on the command line, NetSpec definitions, drawing, a solver walkthrough, a Python-configured
solver, net surgery, a siamese embedding) run on this package, compared with what real Caffe
1.0 printed, wrote and held running the same programs on the same stand-in data
(public_programs/fixtures, written by public_programs/make_fixtures.py).

The public net definitions some programs read come from ../shared/public-nets/; without
../shared those programs skip, naming the file (conftest.public_input).

Tolerance: the spread real Caffe shows against itself on each value, measured by running each
program under several OpenBLAS set-ups of the oracle (its own kernels with 2 threads and with
1, other kernel families forced with OPENBLAS_CORETYPE: other summation orders) and taking the
largest difference between any two runs (fixtures/oracle.json, ``spread.largest``), times
SPREAD_FACTOR.
"""
import json
import pathlib
import re
import shutil
import sys

import numpy as np
import pytest

import tests.conftest as conftest

HERE = pathlib.Path(__file__).parent / "public_programs"
sys.path.insert(0, str(HERE))
import programs  # noqa: E402

ORACLE = json.loads((HERE / "fixtures" / "oracle.json").read_text())

# This package is one more build: its inference convolutions run on torch's kernels (not
# im2col + GEMM), whose summation order differs from every OpenBLAS family more than those
# differ among themselves (measured: up to 2.5 times the largest oracle-to-oracle difference,
# public_programs/README.md). A value is held to 4 times that largest difference, plus one
# float32 rounding of its largest magnitude.
SPREAD_FACTOR = 4.0

# Lines of output that depend on a gaussian filler's draws (caffe_compat.layers.fillers: boost's
# normal is not reproduced, so these values differ from Caffe's while their statistics match).
GAUSSIAN_FILLED_LINES = {
    "designer_filters": re.compile(r"^first map mean (before|after) the bias: (-?\d+\.\d+)$"),
}


def _tolerance(name, key, reference):
    spread = ORACLE["programs"][name]["spread"]["largest"][key]
    assert not isinstance(spread, str), f"{key}: real Caffe's own runs print different text"
    ulp = np.abs(np.spacing(np.abs(reference).astype(np.float32))).max() if reference.size else 0
    return SPREAD_FACTOR * spread + float(ulp)


def _compare_text(name, key, expected, got):
    pattern = GAUSSIAN_FILLED_LINES.get(name) if key == "stdout" else None
    if pattern is None:
        assert got == expected, f"{name}: {key} differs from real Caffe's"
        return
    exp_lines, got_lines = expected.splitlines(), got.splitlines()
    assert len(got_lines) == len(exp_lines)
    filled = {}
    for exp, line in zip(exp_lines, got_lines):
        m = pattern.match(line)
        if m and pattern.match(exp):
            filled[m.group(1)] = float(m.group(2))
            continue
        assert line == exp, f"{name}: printed {line!r} where real Caffe printed {exp!r}"
    # the view taken before the forward sees the new outputs: the mean moves by the bias, 1
    # (both printed to 2 decimals)
    assert abs(filled["after"] - filled["before"] - 1) <= 0.01 + 1e-9, filled


def _shared(relative):
    """A public input under ../shared: skips naming it when absent (fails under
    RLQ_REQUIRE_FIXTURES=1, conftest's rule)."""
    return conftest.public_input(*relative.split("/"))


def _check(name, tmp_path):
    if name in programs.NEEDS_GRAPHVIZ and shutil.which("dot") is None:
        pytest.skip(f"{name}: Graphviz's dot program (which writes the output compared) is not "
                    "on PATH")
    for relative in programs.PROGRAMS[name].shared.values():
        _shared(relative)            # every input present before anything runs
    expected = np.load(HERE / "fixtures" / f"{name}.npz")
    got = programs.run(name, tmp_path, _shared)
    assert sorted(got) == sorted(expected.files)
    for key in expected.files:
        ref = expected[key]
        if ref.dtype.kind == "U":
            _compare_text(name, key, str(ref), got[key])
            continue
        value = np.asarray(got[key])
        assert value.shape == ref.shape, f"{name}: {key} has shape {value.shape}"
        np.testing.assert_allclose(value, ref, rtol=0, atol=_tolerance(name, key, ref),
                                   err_msg=f"{name}: {key}")


FAST = sorted(set(programs.PROGRAMS) - programs.SLOW)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", FAST)
def test_program_gives_caffes_outputs(name, tmp_path):
    _check(name, tmp_path)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", sorted(programs.SLOW))
def test_long_program_gives_caffes_outputs(name, tmp_path):
    _check(name, tmp_path)


def test_every_program_has_a_fixture_and_a_measured_spread():
    variants = set(ORACLE["variants"])
    for name in programs.PROGRAMS:
        assert (HERE / "fixtures" / f"{name}.npz").exists(), name
        runs = ORACLE["programs"][name]["openblas_core"]
        assert "default" in runs and set(runs) <= variants, name
        spreads = ORACLE["programs"][name]["spread"]
        # every pair of the OpenBLAS set-ups the program ran under, and the largest
        assert len(spreads) == len(runs) * (len(runs) - 1) // 2 + 1, name
        assert len(runs) >= 4, name
    assert ORACLE["build"]["caffe"].startswith("caffe version 1.0.0")
    assert ORACLE["build"]["openblas_core"] and ORACLE["build"]["cpu"]


def test_every_program_is_a_script_of_ours_with_its_inputs_named():
    for program in programs.PROGRAMS.values():
        script = programs.SCRIPTS / program.script
        assert script.is_file(), script
        assert script.read_text(encoding="utf-8").startswith('"""'), script   # says what it does
        for relative in program.shared.values():
            assert relative.startswith("public-nets/"), relative


def test_a_missing_shared_input_skips_naming_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.delenv("RLQ_REQUIRE_FIXTURES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="conv.prototxt"):
        _check("designer_filters", tmp_path)
