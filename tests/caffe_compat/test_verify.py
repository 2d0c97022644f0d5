"""caffe-compat verify: finding a build, the worker protocol, the generated nets, the table.

The live run against a real Caffe build is the last test (it needs one: the build of
../shared/tools/caffe-oracle, or CAFFE_VERIFY_BUILD=PATH); everything else runs without Caffe,
with a stand-in pycaffe where a worker is needed.
"""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import caffe_compat.cli.main  # noqa: F401 (registers the subcommands)
from caffe_compat.cli.registry import COMMANDS
from caffe_compat.layers import registered_types
from caffe_compat.verify import build, checks, examples, report
from tests.conftest import FIXTURES, REPO

CAFFE_TYPES = json.loads((FIXTURES / "caffe-reference" / "layer_types.json").read_text())


def test_registered_as_a_subcommand():
    assert "verify" in COMMANDS


def test_every_caffe_type_has_an_example_or_a_reason():
    missing = [t for t in CAFFE_TYPES["layer_types"]
               if t not in examples.EXAMPLES and t not in examples.NOT_GENERATED]
    assert missing == []


@pytest.mark.parametrize("type_name", sorted(
    set(registered_types()) & set(CAFFE_TYPES["layer_types"]) - set(examples.NOT_GENERATED)))
def test_examples_run_in_our_engine(type_name, tmp_path):
    """Each generated net builds and runs here (verify's Caffe side is then the only unknown)."""
    for i, ex in enumerate(examples.examples_for(type_name)):
        task = checks.prepare_layer_case(type_name, i, ex, tmp_path / f"{type_name}_{i}")
        assert isinstance(task, dict), task.error
        assert (tmp_path / f"{type_name}_{i}" / "ours.caffemodel").is_file()


def test_parity_table_has_verify_rows():
    page = (REPO / "docs" / "parity.md").read_text(encoding="utf-8")
    claims = [ln.split("|")[1].strip() for ln in page.splitlines() if ln.startswith("| ")]
    for row in report.ROWS:
        assert row.claim in claims, row.claim


# ------------------------------------------------------------------------------ the build
def _fake_build(tmp_path, module_text):
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "python" / "caffe").mkdir(parents=True)
    (prefix / "python" / "caffe" / "__init__.py").write_text(textwrap.dedent(module_text))
    (prefix / "python" / "caffe" / "_caffe.so").write_bytes(b"")
    exe = prefix / "bin" / "caffe"
    exe.write_text("#!/bin/sh\necho 'caffe version 1.0.0-test'\n")
    exe.chmod(0o755)
    return prefix


FAKE_PYCAFFE = """
    import os
    __version__ = "1.0.0-test"
    def set_mode_cpu():
        pass
    def set_random_seed(seed):
        pass
    def layer_type_list():
        return ["ReLU", "Convolution"]
    TEST, TRAIN = 1, 0
    class Net:
        def __init__(self, path, phase, weights=None):
            if "ABORT" in open(path).read():
                os.abort()          # as a failed CHECK does
            raise ValueError("stand-in pycaffe builds no nets")
"""


def test_locate_from_the_binary_and_from_pycaffe(tmp_path):
    prefix = _fake_build(tmp_path, FAKE_PYCAFFE)
    b = build.locate(prefix / "bin" / "caffe", python=sys.executable)
    assert b.pycaffe == (prefix / "python").resolve() and b.binary == (prefix / "bin" / "caffe")
    assert b.version() == "caffe version 1.0.0-test"
    b2 = build.locate(prefix / "python", python=sys.executable)
    assert b2.pycaffe == (prefix / "python").resolve() and b2.binary.name == "caffe"
    assert build.locate(prefix / "python" / "caffe").pycaffe == (prefix / "python").resolve()


def test_locate_errors_name_the_path(tmp_path):
    with pytest.raises(build.CaffeBuildError, match="no such file or folder"):
        build.locate(tmp_path / "nothing")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "caffe").write_text("")
    with pytest.raises(build.CaffeBuildError, match="no pycaffe found.*BUILD_python"):
        build.locate(tmp_path / "bin" / "caffe")


def test_worker_records_errors_and_survives_an_abort(tmp_path):
    """A task that aborts the process (a failed CHECK in Caffe) is reported with the message
    and the worker restarts on the remaining tasks."""
    prefix = _fake_build(tmp_path, FAKE_PYCAFFE)
    b = build.locate(prefix / "bin" / "caffe", python=sys.executable)
    tasks = []
    for name, text in (("a", "plain"), ("b", "ABORT"), ("c", "plain")):
        d = tmp_path / name
        d.mkdir()
        (d / "net.prototxt").write_text(text)
        tasks.append({"id": name, "kind": "net", "dir": str(d)})
    (tmp_path / "i").mkdir()
    tasks.append({"id": "info", "kind": "info", "dir": str(tmp_path / "i")})
    out = build.Worker(b, tmp_path).run(tasks)
    assert out["a"]["ok"] is False and "stand-in pycaffe" in out["a"]["error"]
    assert out["b"]["ok"] is False and out["b"]["error"].startswith("Caffe aborted")
    assert out["c"]["ok"] is False and "stand-in pycaffe" in out["c"]["error"]
    assert out["info"]["ok"] and out["info"]["layer_types"] == ["Convolution", "ReLU"]


def test_a_python_without_pycaffe_is_a_clear_error(tmp_path):
    prefix = _fake_build(tmp_path, "raise ImportError('no _caffe here')\n")
    b = build.locate(prefix / "bin" / "caffe", python=sys.executable)
    (tmp_path / "i").mkdir()
    with pytest.raises(build.CaffeBuildError, match="could not import pycaffe"):
        build.Worker(b, tmp_path).run([{"id": "info", "kind": "info", "dir": str(tmp_path / "i")}])


def test_summary_names_the_departing_layer():
    good = checks.CaseResult("ReLU", 0, forward=1e-7, backward=1e-7,
                             roundtrip={"read by Caffe": True})
    bad = checks.CaseResult("Power", 1, forward=0.3, backward=1e-7,
                            roundtrip={"read by Caffe": True}, fields="power_param { shift: 1 }")
    rows, departures = report.summarise([good, bad], {"sgd": (1e-7, 1e-7, None)}, "Zen")
    assert rows["forward"][2] is False and rows["backward"][2] is True
    assert departures == [("Power", "net 1: power_param { shift: 1 }",
                           "forward error 0.3 > 1e-05")]
    text = report.render(rows, departures, ["header"], [("Data", "why")])
    assert "DEPARTS" in text
    assert "Power (net 1: power_param { shift: 1 }): forward error 0.3" in text


def test_a_composite_departure_points_to_its_part():
    power = checks.CaseResult("Power", 0, forward=0.4)
    lrn = checks.CaseResult("LRN", 1, forward=0.9, fields="lrn_param { norm_region: "
                            "WITHIN_CHANNEL }")
    _, departures = report.summarise([lrn, power], {}, None)
    assert departures[0][0] == "LRN" and "with Power layers inside it" in departures[0][2]
    assert "inside" not in departures[1][2]


def test_data_layers_must_match_exactly():
    # tolerance 0 for batches: any difference in a data layer's batch is a departure
    exact = checks.CaseResult("ImageData", 0, forward=0.0)
    close = checks.CaseResult("WindowData", 1, forward=1e-7)
    rows, departures = report.summarise([exact, close], {}, None)
    assert rows["data"][2] is False and rows["forward"][2] is True
    assert departures == [("WindowData", "net 1", "batches differ (scaled error 1e-07; "
                                                  "tolerance 0)")]
    assert rows["loss"][2] is None            # no training runs asked: "not run", not a failure
    assert "| not run |" in report.render(rows, departures, [], [])


def test_data_examples_write_their_sources(tmp_path):
    for type_name, files in (("Data", ("db",)), ("ImageData", ("list.txt", "img0.png")),
                             ("WindowData", ("windows.txt", "img5.png"))):
        ex = examples.examples_for(type_name)[0]
        assert ex.phase == "TRAIN" and not ex.backward and ex.forwards > 1
        task = checks.prepare_layer_case(type_name, 0, ex, tmp_path / type_name)
        assert isinstance(task, dict), task.error
        assert task["phase"] == "TRAIN" and task["seed"] == ex.seed
        for name in files:
            assert (tmp_path / type_name / name).exists()


def test_filter_gets_a_head_without_a_target():
    # Caffe sizes Filter's top by the whole batch when it builds the net: an EuclideanLoss
    # target of the filtered size would fail its shape check there
    ex = examples.examples_for("Filter")[0]
    text = examples.case_net("Filter", ex, {"t0": (2, 3)})
    assert "EuclideanLoss" not in text and "operation: SUMSQ" in text and "target_" not in text


def test_scaled_error_matches_the_tests_definition():
    from tests.caffe_compat.reference import scaled_error
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert checks.scaled_error(a, b) == scaled_error(a, b)
    assert checks.scaled_error(np.zeros(3), np.zeros(2)) == float("inf")


# ------------------------------------------------------------------------------ live
def _oracle():
    path = os.environ.get("CAFFE_VERIFY_BUILD") or os.path.expanduser(
        "~/.cache/caffe-oracle/bin/caffe")
    return path if os.path.exists(path) else None


@pytest.mark.slow
@pytest.mark.skipif(_oracle() is None, reason="needs a real Caffe build (the caffe-oracle build "
                    "of ../shared/tools/caffe-oracle, or CAFFE_VERIFY_BUILD=PATH)")
def test_verify_against_a_real_caffe_build(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import sys; from caffe_compat.cli.main import main; "
                          "sys.exit(main())", "verify", "--caffe", _oracle(), "--workdir",
                          str(tmp_path)], capture_output=True, text=True, timeout=3000)
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "DEPARTS" not in out.stdout and "caffe version" in out.stdout


def test_the_programs_pythonpath_comes_after_the_build_pythons_packages(tmp_path, monkeypatch):
    """A folder on the program's PYTHONPATH holding another numpy (an OpenCV installed with
    pip --target) does not shadow the build Python's own: the worker still imports pycaffe,
    and the folder's other packages stay reachable."""
    prefix = _fake_build(tmp_path, FAKE_PYCAFFE)
    shadow = tmp_path / "shadow"
    (shadow / "numpy").mkdir(parents=True)
    (shadow / "numpy" / "__init__.py").write_text("raise ImportError('the shadowing numpy')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    b = build.locate(prefix / "bin" / "caffe", python=sys.executable)
    assert b.env()["PYTHONPATH"] == str(b.pycaffe)
    (tmp_path / "i").mkdir()
    out = build.Worker(b, tmp_path).run([{"id": "info", "kind": "info",
                                          "dir": str(tmp_path / "i")}])
    assert out["info"]["ok"] and out["info"]["layer_types"] == ["Convolution", "ReLU"]
