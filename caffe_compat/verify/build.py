"""Finding a user's Caffe build and running its pycaffe in a subprocess (``_worker.py``).

``--caffe PATH``: the build's ``caffe`` binary (``<prefix>/bin/caffe``, ``build/tools/caffe``)
or its pycaffe folder (holding the ``caffe`` package, or the package itself). pycaffe runs in
``--python``, else the Python next to the build (``<prefix>/venv/bin/python``,
``<prefix>/bin/python3``), else ``python3`` on PATH, with the pycaffe folder on PYTHONPATH and
the build's ``lib`` folders first on LD_LIBRARY_PATH; the program's own PYTHONPATH comes after
that Python's packages (:data:`USER_PATH`), where another numpy on it (an OpenCV installed
with ``pip install --target``) cannot shadow the one pycaffe was built against.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from ..errors import CaffeCompatError

WORKER = pathlib.Path(__file__).with_name("_worker.py")
# the caller's PYTHONPATH, which the worker puts after its Python's own packages
USER_PATH = "CAFFE_COMPAT_VERIFY_USER_PATH"


class CaffeBuildError(CaffeCompatError):
    """The Caffe build named by --caffe cannot be found or run."""


@dataclass
class CaffeBuild:
    path: str                      # what the user gave
    pycaffe: pathlib.Path          # folder holding the caffe package
    python: str
    binary: pathlib.Path | None
    lib_dirs: list = field(default_factory=list)

    def env(self):
        env = dict(os.environ)
        env[USER_PATH] = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = str(self.pycaffe)
        libs = [str(d) for d in self.lib_dirs]
        if libs:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(libs + (
                [env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
        env.setdefault("GLOG_minloglevel", "2")
        return env

    def version(self):
        """``caffe --version`` of the binary (or None without one)."""
        if self.binary is None:
            return None
        try:
            out = subprocess.run([str(self.binary), "--version"], env=self.env(),
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CaffeBuildError(f"{self.binary}: cannot run it ({e})") from None
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[-1] if text else None


def _is_pycaffe(folder):
    return (folder / "caffe" / "__init__.py").is_file() and any(
        (folder / "caffe").glob("_caffe*"))


def locate(path, python=None):
    """The :class:`CaffeBuild` of ``path`` (binary or pycaffe folder)."""
    p = pathlib.Path(path).expanduser()
    if not p.exists():
        raise CaffeBuildError(f"{path}: no such file or folder (give the build's caffe binary, "
                              "e.g. PREFIX/bin/caffe, or its pycaffe folder, e.g. PREFIX/python)")
    p = p.resolve()
    binary = None
    if p.is_file():
        binary = p
        tops = [p.parent.parent, p.parent.parent.parent]        # bin/.. ; build/tools/..
        candidates = [t / "python" for t in tops] + [p.parent.parent / "python"]
    elif p.name == "caffe" and (p / "__init__.py").is_file():
        candidates, tops = [p.parent], [p.parent.parent]
    else:
        candidates, tops = [p], [p.parent]
    pycaffe = next((c for c in candidates if _is_pycaffe(c)), None)
    if pycaffe is None:
        looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
        raise CaffeBuildError(f"{path}: no pycaffe found (looked in {looked}); build Caffe with "
                              "its Python interface (BUILD_python=ON / make pycaffe) or pass the "
                              "folder that holds the caffe package")
    if binary is None:
        binary = next((t / rel for t in tops
                       for rel in ("bin/caffe", "build/tools/caffe", "tools/caffe")
                       if (t / rel).is_file()), None)
    lib_dirs = [d for t in dict.fromkeys(tops) for d in (t / "lib", t / "build" / "lib")
                if d.is_dir()]
    if python is None:
        python = next((str(t / rel) for t in tops
                       for rel in ("venv/bin/python", "bin/python3", "bin/python")
                       if (t / rel).is_file() and os.access(t / rel, os.X_OK)), None)
    python = python or shutil.which("python3") or sys.executable
    return CaffeBuild(str(path), pycaffe, python, binary, lib_dirs)


class Worker:
    """Runs tasks in the build's Python, restarting after a task that aborts the process."""

    def __init__(self, build, workdir):
        self.build = build
        self.workdir = pathlib.Path(workdir)
        self.env = build.env()

    def run(self, tasks, timeout=1800):
        """Run ``tasks`` (dicts with id, kind, dir, ...); returns {id: status dict}."""
        results = {}
        pending = list(tasks)
        attempt = 0
        while pending:
            attempt += 1
            job = self.workdir / f"job{attempt}.json"
            progress = self.workdir / f"progress{attempt}.txt"
            progress.write_text("")
            job.write_text(json.dumps({"progress": str(progress), "tasks": pending,
                                       "pycaffe": str(self.build.pycaffe)}))
            try:
                proc = subprocess.run([self.build.python, str(WORKER), str(job)], env=self.env,
                                      capture_output=True, text=True, timeout=timeout)
            except OSError as e:
                raise CaffeBuildError(f"{self.build.python}: cannot run it ({e})") from None
            except subprocess.TimeoutExpired:
                raise CaffeBuildError(f"the Caffe worker did not finish in {timeout} s") from None
            started = progress.read_text().split()
            for task in pending:
                done = pathlib.Path(task["dir"]) / "done.json"
                if done.exists():
                    results[task["id"]] = json.loads(done.read_text())
            if proc.returncode == 0:
                break
            if not started:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise CaffeBuildError(f"{self.build.python} could not import pycaffe from "
                                      f"{self.build.pycaffe}:\n  " + "\n  ".join(tail))
            crashed = started[-1]
            results[crashed] = {"ok": False, "error": _abort_message(proc.stderr)}
            pending = [t for t in pending if t["id"] not in results]
        return results


def _abort_message(stderr):
    """Caffe's fatal line (a failed CHECK) from a worker that aborted."""
    lines = [ln for ln in (stderr or "").splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith("F") or "Check failed" in ln]
    pick = fatal[-1] if fatal else (lines[-1] if lines else "the process aborted")
    return "Caffe aborted: " + pick.split("] ", 1)[-1]
