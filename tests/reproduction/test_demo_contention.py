"""The demo within its 10 minutes while another process of higher priority holds a core (a busy
loop pinned to the last CPU at nice -5: torch's fixed thread shares made every operator wait for
that core before the thread count followed the cores we can get, caffe_compat.parallel.threads)."""
import os
import subprocess
import sys

import pytest

from caffe_compat.parallel import threads
from reproduction import demo as D


@pytest.mark.contention
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(threads.affinity()) < 2,
                    reason="needs two CPUs and Linux affinity")
def test_demo_under_ten_minutes_with_a_core_held(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a busy loop at nice -5 needs root")
    cpu = threads.affinity()[-1]

    def pinned_higher_priority():
        os.sched_setaffinity(0, {cpu})
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    # the loop ends by itself after 11 minutes should this process die without killing it
    hog = subprocess.Popen([sys.executable, "-c", "import time\nend = time.monotonic() + 660\n"
                            "while time.monotonic() < end:\n    pass\n"],
                           preexec_fn=pinned_higher_priority)
    try:
        res = D.run_demo(str(tmp_path / "demo"), progress=False, log=lambda line: None)
        assert hog.poll() is None, "the busy loop ended before the demo did"
    finally:
        hog.kill()
        hog.wait()
    # the demo's promise holds with a core taken: the whole pipeline in under 10 minutes
    assert res["seconds"] < 600, res["seconds"]
    for key in ("table_md", "table_csv", "figure4_png"):
        assert os.path.isfile(res["files"][key]), key
