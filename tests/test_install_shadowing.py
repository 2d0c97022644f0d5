"""A user's own folders and modules do not replace this project's packages.

After the README's install (``pip install -e ".[test]"``), programs run from a folder that
holds an old Caffe checkout (``caffe/``, no ``__init__.py``), a ``models/`` folder (Caffe's
model-zoo layout) and a ``models.py`` of the user's: ``import caffe`` is this project's pycaffe
package and ``python -m reproduction`` runs. Python prefers a regular package anywhere on
``sys.path`` to a folder without ``__init__.py`` (a namespace portion) only when the package is
found by the path finder: the editable install therefore puts the repository on ``sys.path``
(setuptools' static ``.pth``, chosen by ``package_dir={"": "."}`` in setup.py) instead of its
import hook, which runs after the path finder. The zoo's import name is ``lq_models``, so a
user's ``models.py`` or ``models/`` cannot stand in for it. Each command runs in a child
interpreter of the test's own Python, with the folder as its working directory (the first entry
of ``sys.path``) and, for the second case, on ``PYTHONPATH``.
"""
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# importing torch and the packages in a cold child: a few seconds
TIMEOUT = 300


def _run(cwd, *args, pythonpath=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = os.fspath(pythonpath)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)


def _user_folder(root):
    """A working folder as users have them: an old Caffe checkout, Caffe's models/ folder and
    a models.py of their own."""
    root.mkdir()
    checkout = root / "caffe"
    (checkout / "python" / "caffe").mkdir(parents=True)
    (checkout / "Makefile").write_text("# BVLC Caffe\n")
    (checkout / "python" / "caffe" / "__init__.py").write_text(
        "raise ImportError('the old Caffe checkout was imported')\n")
    (root / "models" / "bvlc_reference_caffenet").mkdir(parents=True)
    (root / "models" / "bvlc_reference_caffenet" / "deploy.prototxt").write_text('name: "x"\n')
    (root / "models.py").write_text("raise ImportError(\"the user's models.py was imported\")\n")
    return root


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Skip unless this interpreter imports the project from an unrelated folder (installed)."""
    empty = tmp_path_factory.mktemp("empty")
    probe = _run(empty, "-c", "import caffe_compat, caffe, reproduction")
    if probe.returncode:
        pytest.skip("the project is not installed in this interpreter (pip install -e .): "
                    + probe.stderr.strip().splitlines()[-1])
    return empty


IMPORT_CAFFE = ("import caffe, os; assert caffe.Net and caffe.TEST == 1 and caffe.SGDSolver; "
                "print(os.path.realpath(caffe.__file__))")


def _ours(path_line):
    return os.path.realpath(path_line.strip()).startswith(os.path.realpath(REPO)) or \
        "site-packages" in path_line


def test_cwd_folders_do_not_shadow(installed, tmp_path):
    work = _user_folder(tmp_path / "work")
    got = _run(work, "-c", IMPORT_CAFFE)
    assert got.returncode == 0, got.stderr
    assert _ours(got.stdout) and not got.stdout.strip().startswith(os.fspath(work)), got.stdout

    got = _run(work, "-m", "reproduction", "demo", "--help")
    assert got.returncode == 0, got.stderr
    assert "usage:" in got.stdout and "--out" in got.stdout, got.stdout

    got = _run(work, "-m", "lq_models", "list")
    assert got.returncode == 0, got.stderr
    assert "joint-oa" in got.stdout, got.stdout


def test_folders_earlier_on_sys_path_do_not_shadow(installed, tmp_path):
    """The same folders on PYTHONPATH (before site-packages), run from an unrelated folder."""
    elsewhere = _user_folder(tmp_path / "elsewhere")
    got = _run(installed, "-c", IMPORT_CAFFE + "; import lq_models; lq_models.get('hr')",
               pythonpath=elsewhere)
    assert got.returncode == 0, got.stderr
    assert _ours(got.stdout), got.stdout
    got = _run(installed, "-m", "reproduction", "demo", "--help", pythonpath=elsewhere)
    assert got.returncode == 0, got.stderr


def _installed_distribution():
    """The installed distribution's metadata (its .dist-info in site-packages: the repository's
    own robust_lq_emotion.egg-info, written by the build, is found first from the root)."""
    from importlib import metadata
    for dist in metadata.distributions():
        if (dist.metadata["Name"] or "").lower().replace("_", "-") == "robust-lq-emotion" \
                and dist.read_text("direct_url.json") is not None:
            return dist
    pytest.skip("the project is not installed in this interpreter (pip install -e .)")


def test_no_generic_import_names():
    """The installed top-level names are the project's own (pycaffe's ``caffe`` by design): no
    ``models`` that a user's file of that name would replace (the distribution's
    top_level.txt, written by the install)."""
    names = set((_installed_distribution().read_text("top_level.txt") or "").split())
    assert "lq_models" in names and "models" not in names, names


def test_editable_install_is_a_path_entry():
    """An editable install is setuptools' static .pth of the repository (found by the path
    finder), not its import hook (``__editable___*_finder.py``, consulted after the path finder,
    so that a namespace folder won): setup.py maps no package to another folder."""
    import json
    dist = _installed_distribution()
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if not direct.get("dir_info", {}).get("editable"):
        pytest.skip("installed non-editable: site-packages holds the packages themselves")
    files = [str(f) for f in dist.files or ()]
    assert not [f for f in files if f.endswith("_finder.py")], files
    pth = [f for f in dist.files if str(f).endswith(".pth")]
    assert len(pth) == 1, files
    entries = pth[0].read_text().split()
    assert [os.path.realpath(e) for e in entries] == [os.path.realpath(REPO)], entries
