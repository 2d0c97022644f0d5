"""The one helper thread shared by the kernels' halves (caffe_compat.parallel.helper)."""
import os
import subprocess
import sys
import threading

import pytest

from caffe_compat.parallel.helper import Helper


def test_a_helper_runs_work_on_its_own_named_thread_and_its_initializer_first():
    started = []
    helper = Helper("caffe-compat-test-helper", lambda: started.append(threading.current_thread()))
    name = helper.submit(lambda: threading.current_thread().name).result(timeout=10)
    assert name.startswith("caffe-compat-test-helper")
    assert len(started) == 1 and started[0] is not threading.current_thread()
    assert helper.submit(lambda a, b: a + b, 2, 3).result(timeout=10) == 5
    assert len(started) == 1                     # one thread, started once


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_helper_thread():
    helper = Helper("caffe-compat-test-fork")
    assert helper.submit(lambda: 1).result(timeout=10) == 1      # the parent's thread exists
    pid = os.fork()
    if pid == 0:                                 # the child: the parent's thread is not here
        try:
            ok = helper.submit(lambda: 2).result(timeout=10) == 2
        except BaseException:                    # noqa: BLE001 - reported by the exit code
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_pool_library_loads_with_the_first_helper_thread():
    """The rules that hold a helper (DetectionOutput's) load without concurrent.futures and
    the logging it imports: a one-shot SSD read pays for them only if a forward splits."""
    program = ("import sys\n"
               "import caffe_compat.rules.detection_output\n"
               "from caffe_compat.parallel.helper import Helper\n"
               "before = 'concurrent.futures' in sys.modules\n"
               "Helper('t').submit(int, 2).result()\n"
               "print(before, 'concurrent.futures' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "True"]
