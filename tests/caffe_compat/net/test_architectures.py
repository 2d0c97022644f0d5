"""The architecture line of ``caffe-compat inspect`` comes from describers packages register:
caffe_compat itself imports none of them (the model zoo declares an entry point)."""
import os
import subprocess
import sys
import textwrap

import pytest

from caffe_compat.net import architectures
from tests.conftest import REPO


@pytest.fixture
def describers(monkeypatch):
    """An empty describer list for the test (entry points not loaded)."""
    monkeypatch.setattr(architectures, "_DESCRIBERS", [])
    monkeypatch.setattr(architectures, "_entry_points_loaded", True)
    return architectures


def test_first_describer_that_knows_the_net_wins(describers):
    describers.register_architecture_describer(lambda net: None)
    describers.register_architecture_describer(lambda net: f"net {net}")
    describers.register_architecture_describer(lambda net: "never asked")
    assert describers.describe_architecture("x") == "net x"


def test_no_describer_no_line(describers):
    assert describers.describe_architecture(object()) is None


def test_a_failing_describer_is_reported_and_skipped(describers):
    def broken(net):
        raise RuntimeError("boom")

    describers.register_architecture_describer(broken)
    describers.register_architecture_describer(lambda net: "fine")
    with pytest.warns(RuntimeWarning, match="boom"):
        assert describers.describe_architecture("x") == "fine"


def test_registering_twice_keeps_one(describers):
    def d(net):
        return "d"

    describers.register_architecture_describer(d)
    describers.register_architecture_describer(d)
    assert describers.architecture_describers() == [d]


def test_the_zoo_is_found_through_its_entry_point_without_importing_it():
    """A fresh interpreter, as ``caffe-compat inspect`` runs: caffe_compat does not import the
    zoo, the entry point of the installed project brings its describer. (A missing entry
    point means stale install metadata: ``pip install -e .`` writes it.)"""
    code = textwrap.dedent("""
        import sys
        import caffe_compat, caffe_compat.cli.main
        assert "lq_models" not in sys.modules, "caffe_compat imported the model zoo"
        from caffe_compat.net.architectures import architecture_describers
        names = [f"{d.__module__}.{d.__name__}" for d in architecture_describers()]
        print(names)
        assert "lq_models.architecture.describe_architecture" in names, names
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:] + (
        "\n(no entry point in group caffe_compat.architectures: run `pip install -e .` to "
        "refresh the installed metadata)")
