"""``caffe-compat doctor`` names the ``caffe`` that ``import caffe`` would load, and what to remove.

An old pycaffe wins over this project's when it comes earlier in ``sys.path``: a ``caffe/``
package (with ``__init__.py``) in the working folder, which ``python -c``, ``python -m`` and
the interactive prompt put first, or a Caffe checkout's ``python/`` folder on ``PYTHONPATH``
(Caffe's install guide ends with ``export PYTHONPATH=~/caffe/python``). The command runs in
a child interpreter from such a folder (or with such a ``PYTHONPATH``) and must name the
package it found, say that it is not this project's, and name the folder or the
``PYTHONPATH`` entry to remove. It looks the name up without importing it (the old package
would fail to import, or import something else).
"""
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# a cold child interpreter that imports the command line only (no torch): seconds
TIMEOUT = 120


def _doctor(cwd, pythonpath=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = os.fspath(pythonpath)
    return subprocess.run([sys.executable, "-m", "caffe_compat.cli", "doctor"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)


def _old_pycaffe(folder):
    """A Caffe checkout's ``python/caffe`` package, as its ``make pycaffe`` leaves it."""
    pkg = folder / "caffe"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('the old pycaffe was imported')\n")
    (pkg / "pycaffe.py").write_text("")
    return pkg


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Skip unless this interpreter imports the project from an unrelated folder."""
    empty = tmp_path_factory.mktemp("empty")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    probe = subprocess.run([sys.executable, "-c", "import caffe_compat, caffe"], cwd=empty,
                           env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if probe.returncode:
        pytest.skip("the project is not installed in this interpreter (pip install -e .)")
    return empty


def test_this_projects_caffe_is_reported(installed):
    got = _doctor(installed)
    assert got.returncode == 0, got.stdout + got.stderr
    ours = os.path.realpath(REPO / "caffe" / "__init__.py")
    assert "this project's pycaffe" in got.stdout, got.stdout
    assert ours in got.stdout or "site-packages" in got.stdout, got.stdout


def test_a_caffe_package_in_the_working_folder_is_named(installed, tmp_path):
    work = tmp_path / "work"
    pkg = _old_pycaffe(work)
    got = _doctor(work)
    assert got.returncode == 1, got.stdout + got.stderr
    out = got.stdout
    assert os.fspath(pkg / "__init__.py") in out, out
    assert "NOT this project's" in out, out
    assert "working folder" in out and f"move {pkg}" in out, out


def test_an_old_pycaffe_on_pythonpath_is_named(installed, tmp_path):
    checkout = tmp_path / "caffe-1.0" / "python"
    pkg = _old_pycaffe(checkout)
    got = _doctor(installed, pythonpath=checkout)
    assert got.returncode == 1, got.stdout + got.stderr
    out = got.stdout
    assert os.fspath(pkg / "__init__.py") in out and "NOT this project's" in out, out
    assert f"remove {checkout} from PYTHONPATH" in out, out


def test_a_namespace_folder_is_named_but_harmless(installed, tmp_path):
    """A Caffe checkout itself (``caffe/`` without ``__init__.py``) in the working folder does
    not win (tests/test_install_shadowing.py); the command lists it as harmless."""
    work = tmp_path / "work"
    (work / "caffe" / "python").mkdir(parents=True)
    got = _doctor(work)
    assert got.returncode == 0, got.stdout + got.stderr
    assert "this project's pycaffe" in got.stdout, got.stdout
    assert os.fspath(work / "caffe") in got.stdout and "not imported" in got.stdout, got.stdout
