"""tests/opencv_usage.py: the files that reach OpenCV are recorded (in the test process, at
collection, and in the tests' subprocesses), and a later run runs exactly those."""
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("cv2")

FILES = {
    # a test that calls OpenCV
    "test_calls.py": "import cv2\n\ndef test_it():\n    assert cv2.resize is not None\n",
    # OpenCV read while the module is collected (a skip condition)
    "test_collect.py": "import cv2\nimport pytest\n\n"
                       "@pytest.mark.skipif(cv2.__version__ < '1', reason='old')\n"
                       "def test_it():\n    pass\n",
    # OpenCV reached only in a subprocess
    "test_child.py": "import subprocess, sys\n\ndef test_it():\n    subprocess.run("
                     "[sys.executable, '-c', 'import cv2; cv2.imread'], check=True)\n",
    # cv2 imported but never asked for anything, and a file without it
    "test_imports.py": "import cv2  # noqa: F401\n\ndef test_it():\n    pass\n",
    "test_plain.py": "import math\n\ndef test_a():\n    assert math.pi\n\n"
                     "def test_b():\n    pass\n",
    "conftest.py": "import sys\nsys.path.insert(0, {repo!r})\n"
                   "from tests.opencv_usage import plugin_from_environment\n\n"
                   "def pytest_configure(config):\n"
                   "    plugin = plugin_from_environment()\n"
                   "    if plugin is not None:\n"
                   "        config.pluginmanager.register(plugin, 'opencv-usage')\n",
}


def _pytest(folder, *options, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("RLQ_OPENCV_RECORD", "RLQ_OPENCV_ONLY", "PYTHONPATH")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *options, str(folder)], cwd=folder, env=full, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two xdist workers"])
def test_record_then_run_only_those(tmp_path, workers):
    if workers:
        pytest.importorskip("xdist")
    for name, text in FILES.items():
        (tmp_path / name).write_text(text.format(repo=str(REPO)))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    listing = tmp_path / "opencv-tests.txt"
    run = _pytest(tmp_path, *workers, RLQ_OPENCV_RECORD=str(listing))
    assert run.returncode == 0, run.stdout + run.stderr
    # an import alone asks the module for nothing; the other three reach OpenCV
    assert listing.read_text().split() == ["test_calls.py", "test_child.py",
                                           "test_collect.py"]
    assert not os.path.exists(str(listing) + ".children")
    run = _pytest(tmp_path, *workers, RLQ_OPENCV_ONLY=str(listing))
    assert run.returncode == 0, run.stdout + run.stderr
    # xdist's summary does not count what its workers deselected
    assert ("3 passed in" if workers else "3 passed, 3 deselected") in run.stdout, run.stdout


def test_a_missing_list_is_an_error(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text.format(repo=str(REPO)))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = _pytest(tmp_path, RLQ_OPENCV_ONLY=str(tmp_path / "none.txt"))
    assert run.returncode != 0
    assert "none.txt" in run.stderr and "RLQ_OPENCV_RECORD" in run.stderr, run.stderr


def test_the_forwarding_module_reads_and_writes_through():
    from tests.opencv_forwarding import ForwardingModule
    import types
    real = types.ModuleType("m")
    real.x = 1
    seen = []
    fwd = ForwardingModule(real, lambda: seen.append(1))
    assert fwd.x == 1 and seen == [1]
    fwd.y = 2
    assert real.y == 2
    del fwd.x
    assert not hasattr(real, "x")


def test_the_image_reader_reads_nothing_of_cv2_when_imported():
    # a module-level read would note every test file whose subprocess imports the data
    # package, and CI's OpenCV 4 run would repeat them for nothing
    import cv2
    from caffe_compat.data import images
    assert (images.IMREAD_COLOR, images.IMREAD_GRAYSCALE, images.IMREAD_UNCHANGED) == \
        (cv2.IMREAD_COLOR, cv2.IMREAD_GRAYSCALE, cv2.IMREAD_UNCHANGED)
