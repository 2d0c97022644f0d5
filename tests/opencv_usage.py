"""Which test files reach OpenCV: recorded in one run, the only files run again in the next.

CI runs the default suite twice, under OpenCV 5 and under OpenCV 4 (.ci/run). A test that never
touches ``cv2`` computes the same under both, so the second run needs only the files that do.

``RLQ_OPENCV_RECORD=FILE``: ``cv2`` is replaced in ``sys.modules`` by a module that forwards
every attribute to the real one and notes the test file that asked: while a module is
collected (its imports, module-level code and skip conditions), the module's file; while a test
runs (set-up, call, tear-down, and the fixtures it triggers), the test's file. Subprocesses of
the tests note theirs too: a ``sitecustomize`` put first on ``PYTHONPATH`` installs the same
module in them and appends to ``FILE.children``. At the end FILE lists the files, one per line.
Anything that reaches OpenCV's objects (a ``cv2.dnn.Net``, a ``VideoWriter``) first asked the
module for a function or class, so the file that made it is noted; whole files are listed, not
single tests, so that a module-scoped fixture's object is covered in every test that uses it.
(The project keeps no OpenCV object at module level, where one file could make it and another
use it.)

Under pytest-xdist each worker adds the files it noted to ``FILE.children`` and the process
that started the workers writes FILE.

``RLQ_OPENCV_ONLY=FILE``: only the test files FILE lists are run (the others are deselected;
pytest's summary counts them). A missing FILE is an error, never an empty run.
"""
import atexit
import os
import pathlib
import shutil
import tempfile

import pytest

from caffe_compat.io.atomic import write_text_atomic
from tests.opencv_forwarding import install

RECORD = "RLQ_OPENCV_RECORD"
ONLY = "RLQ_OPENCV_ONLY"
OWNER = "RLQ_OPENCV_OWNER"          # the current test file, for subprocesses
ROOT = pathlib.Path(__file__).resolve().parents[1]


_CHILD_SITE = '''\
"""Installed by tests/opencv_usage.py in the tests' subprocesses: notes the test file whose
subprocess reached cv2."""
import os
import sys

sys.path.insert(0, {root!r})
try:
    from tests.opencv_forwarding import install
finally:
    del sys.path[0]
_done = []


def _note():
    owner = os.environ.get({owner!r})
    if owner and not _done:
        _done.append(owner)
        with open({children!r}, "a", encoding="utf-8") as fh:
            fh.write(owner + "\\n")


install(_note)
'''


def _relative(node):
    """A node's file, relative to the run's root folder (as FILE lists it)."""
    return pathlib.Path(node.path).resolve().relative_to(node.config.rootpath).as_posix()


class Recorder:
    """The pytest plugin behind ``RLQ_OPENCV_RECORD``."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.children = pathlib.Path(str(path) + ".children")
        self.worker = False
        self.owner = None
        self.files = set()
        site = tempfile.mkdtemp(prefix="rlq-opencv-site-")
        atexit.register(shutil.rmtree, site, True)
        pathlib.Path(site, "sitecustomize.py").write_text(_CHILD_SITE.format(
            root=str(ROOT), owner=OWNER, children=str(self.children)), encoding="utf-8")
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = site + (os.pathsep + old if old else "")
        install(self.note)

    def pytest_configure(self, config):
        # under pytest-xdist the workers (their config has ``workerinput``) run the tests and
        # add their files to FILE.children; the process that started them writes FILE
        self.worker = hasattr(config, "workerinput")
        if not self.worker:
            self.children.unlink(missing_ok=True)

    def note(self):
        if self.owner is not None:
            self.files.add(self.owner)

    def _own(self, node):
        self.owner = _relative(node)
        os.environ[OWNER] = self.owner

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector):
        if isinstance(collector, pytest.Module):
            self._own(collector)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item):
        self._own(item)
        yield

    def pytest_sessionfinish(self, session):
        if self.worker:
            with open(self.children, "a", encoding="utf-8") as fh:
                fh.write("".join(f + "\n" for f in sorted(self.files)))
            return
        files = set(self.files)
        if self.children.exists():
            files.update(self.children.read_text(encoding="utf-8").split())
            self.children.unlink()
        write_text_atomic(self.path, "".join(f + "\n" for f in sorted(files)))


class Selector:
    """The pytest plugin behind ``RLQ_OPENCV_ONLY``."""

    def __init__(self, path):
        try:
            text = pathlib.Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise pytest.UsageError(f"{ONLY}={path}: cannot read the list of test files that "
                                    f"reach OpenCV ({e.strerror}); write it with {RECORD}="
                                    f"{path} in an earlier run") from None
        self.files = set(text.split())

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            (keep if _relative(item) in self.files else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def plugin_from_environment():
    """The plugin the environment asks for, or None."""
    if os.environ.get(RECORD):
        return Recorder(os.environ[RECORD])
    if os.environ.get(ONLY):
        return Selector(os.environ[ONLY])
    return None
