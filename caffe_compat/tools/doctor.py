"""``caffe-compat doctor``: which ``caffe`` a Python started here imports, and what to remove.

Python imports the first ``caffe`` along ``sys.path``: the working folder (for ``python -c``,
``python -m`` and the prompt; a script's own folder for ``python script.py``), ``PYTHONPATH``'s
entries, then site-packages, where this project's pycaffe is (or the repository, for an
editable install). So an old pycaffe wins silently when it comes earlier: a ``caffe/`` package
in the working folder, or a Caffe checkout's ``python/`` folder on ``PYTHONPATH`` (as Caffe's
install guide ends). A ``caffe/`` folder without ``__init__.py`` (a Caffe checkout) does not
win: Python prefers a regular package anywhere on the path.

A child interpreter, started in the working folder with this environment, says where ``import
caffe`` resolves (``importlib.util.find_spec``: nothing is run); the command says whether that
is this project's package, names the folder to move or the ``PYTHONPATH`` entry to remove, and
lists every other ``caffe`` on the path. Exit status 0 when it is this project's, 1 otherwise.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from ..cli.registry import register_command

HELP = "show which 'caffe' Python imports here, and what to remove if it is not this one"

# run in the child: where 'import caffe' resolves, and the path it searched (nothing imported)
_PROBE = ("import importlib.util, json, sys; s = importlib.util.find_spec('caffe'); "
          "print(json.dumps({'origin': s.origin if s else None, 'locations': "
          "list(s.submodule_search_locations or []) if s else [], 'path': sys.path, "
          "'executable': sys.executable}))")


def ours():
    """This project's ``caffe/__init__.py`` (beside ``caffe_compat`` in either install)."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.realpath(os.path.join(here, "caffe", "__init__.py"))


def probe(cwd=None, env=None):
    """What a ``python -c 'import caffe'`` started in ``cwd`` finds: a dict with ``origin``
    (the file, or None), ``locations``, ``path`` (its ``sys.path``) and ``executable``."""
    got = subprocess.run([sys.executable, "-c", _PROBE], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    if got.returncode:
        raise RuntimeError(f"the child interpreter failed: {got.stderr.strip()}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def candidates(path, cwd):
    """Every ``caffe`` along ``path``: (entry, location, kind), kind one of ``package``,
    ``module`` or ``namespace`` (a folder without ``__init__.py``: never imported while a
    package exists)."""
    out = []
    for entry in path:
        folder = os.path.join(cwd, entry) if entry else cwd
        if not os.path.isdir(folder):
            continue
        pkg = os.path.join(folder, "caffe")
        if os.path.isdir(pkg):
            init = os.path.join(pkg, "__init__.py")
            out.append((entry, init if os.path.isfile(init) else pkg,
                        "package" if os.path.isfile(init) else "namespace"))
        for name in sorted(os.listdir(folder)):
            if name == "caffe.py" or (name.startswith("caffe.") and name.endswith((".so",
                                                                                   ".pyd"))):
                out.append((entry, os.path.join(folder, name), "module"))
    return out


def _entry_of(origin, found):
    for entry, location, _ in found:
        if os.path.realpath(location) == os.path.realpath(origin):
            return entry
    return None


def advice(origin, entry, cwd, environ):
    """Lines saying where ``origin`` came from and what to remove (``entry``: its
    ``sys.path`` entry)."""
    pkg = os.path.dirname(origin) if origin.endswith("__init__.py") else origin
    pythonpath = [os.path.realpath(p or ".") for p in
                  environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if entry is not None and (entry == "" or os.path.realpath(entry) == os.path.realpath(cwd)):
        return [f"  found in the working folder ({cwd}), which python -c, python -m and the "
                "prompt search first;",
                f"  fix: rename or move {pkg} (or run from another folder)"]
    if entry is not None and os.path.realpath(entry) in pythonpath:
        return [f"  found through PYTHONPATH ({environ.get('PYTHONPATH')});",
                f"  fix: remove {entry} from PYTHONPATH (for this shell: unset PYTHONPATH, or "
                "set it without that entry; for good: delete the 'export PYTHONPATH=...' line "
                "in your shell's start-up file, e.g. ~/.bashrc)"]
    where = entry if entry is not None else os.path.dirname(pkg)
    return [f"  found in {where} (installed there, or added by a .pth file);",
            f"  fix: uninstall the distribution that owns {pkg} (pip uninstall NAME; "
            "'pip show -f NAME' lists a distribution's files), or delete it"]


def report(cwd=None, environ=None):
    """(exit status, lines) of the command (module doc)."""
    cwd = os.getcwd() if cwd is None else os.fspath(cwd)
    environ = dict(os.environ if environ is None else environ)
    got = probe(cwd, environ)
    mine = ours()
    found = candidates(got["path"], cwd)
    origin = got["origin"]
    lines = [f"python: {got['executable']}",
             f"this project's pycaffe: {mine}"]
    if origin and os.path.isfile(origin):
        ok = os.path.realpath(origin) == mine
        lines.append(f"import caffe (run from {cwd}): {origin}")
        if ok:
            lines.append("  this project's pycaffe: nothing to change")
        else:
            lines.append("  NOT this project's pycaffe: an older caffe comes first on sys.path")
            lines += advice(origin, _entry_of(origin, found), cwd, environ)
    else:
        ok = False
        lines.append(f"import caffe (run from {cwd}): no 'caffe' package found; install this "
                     "project (pip install -e .) in this interpreter")
    others = [(e, loc, kind) for e, loc, kind in found
              if os.path.realpath(loc) not in {mine, os.path.realpath(origin or "")}]
    if others:
        lines.append("also on the path, not imported:")
        for entry, location, kind in others:
            why = (" (a folder without __init__.py: never chosen over a package)"
                   if kind == "namespace" else " (shadowed by the one above)")
            lines.append(f"  {location}{why}")
    lines.append("a script run as 'python script.py' searches its own folder first instead of "
                 "the working folder: a caffe/ package beside it wins the same way")
    return (0 if ok else 1), lines


def add_arguments(parser):
    """No flags: the command reports on the working folder and the environment."""


def run(args):
    status, lines = report()
    for line in lines:
        print(line)
    return status


register_command("doctor", add_arguments, run, HELP)
