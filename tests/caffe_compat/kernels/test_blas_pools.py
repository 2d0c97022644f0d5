"""caffe_compat.kernels.blas_pools: OpenBLAS's idle workers are ended before a net is read on
several threads, only where no BLAS call can be under way, and BLAS gives the same bits after."""
import os
import subprocess
import sys
import textwrap

import pytest

from caffe_compat.kernels import blas_pools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
linux_only = pytest.mark.skipif(not os.path.exists(blas_pools.MAPS),
                                reason="the libraries are found in /proc/self/maps (Linux)")

# a program: numpy's pool before and after, the same product's bits; a second Python thread
# alive ("busy") must leave the pool as it is
PROGRAM = textwrap.dedent("""
    import os, sys, threading

    def threads():
        return len(os.listdir("/proc/self/task"))

    base = threads()
    import numpy as np
    from caffe_compat.kernels import blas_pools

    a = np.random.default_rng(0).standard_normal((384, 384))
    first = a @ a                      # starts the pool's workers where it has any
    before = threads()
    workers = before > base
    if sys.argv[1] == "busy":
        go = threading.Event()
        waiter = threading.Thread(target=go.wait)
        waiter.start()
        before = threads()
    told = blas_pools.rest_idle_pools()
    after = threads()
    if sys.argv[1] == "busy":
        go.set()
        waiter.join()
    again = a @ a
    print("found:", len(blas_pools.loaded_openblas()))
    print("told:", told)
    print("threads:", before, after)
    print("same bits:", bool((first == again).all()))
    print("workers:", workers)
    """)


def run(mode, **env):
    environ = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environ.pop(blas_pools.ENV, None)
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(line.split(": ", 1) for line in done.stdout.splitlines())


def test_finds_the_openblas_libraries_in_a_map(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(
        "7f0000000000-7f0000001000 r--p 00000000 08:01 1 /usr/lib/libc.so.6\n"
        "7f0000001000-7f0000002000 r-xp 00001000 08:01 2 /site/numpy.libs/"
        "libscipy_openblas64_-32a4b2a6.so\n"
        "7f0000002000-7f0000003000 r--p 00002000 08:01 2 /site/numpy.libs/"
        "libscipy_openblas64_-32a4b2a6.so\n"
        "7f0000003000-7f0000004000 r-xp 00000000 08:01 3 /my libs/libopenblasp-r0.3.15.so\n"
        "7f0000004000-7f0000005000 rw-p 00000000 00:00 0 \n"
        "7f0000005000-7f0000006000 rw-p 00000000 00:00 0 [heap]\n"
        "7f0000006000-7f0000007000 r--p 00000000 08:01 4 /data/openblas-notes.txt\n")
    assert blas_pools.loaded_openblas(str(maps)) == [
        "/my libs/libopenblasp-r0.3.15.so", "/site/numpy.libs/libscipy_openblas64_-32a4b2a6.so"]
    assert blas_pools.loaded_openblas(str(tmp_path / "absent")) == []


def test_switched_off_by_the_environment():
    assert blas_pools.enabled({}) and blas_pools.enabled({blas_pools.ENV: "1"})
    for value in ("0", "off", "false", "no", " OFF "):
        assert not blas_pools.enabled({blas_pools.ENV: value})
        assert blas_pools.rest_idle_pools(environ={blas_pools.ENV: value}) == 0


@linux_only
def test_the_workers_end_and_blas_gives_the_same_bits():
    got = run("alone")
    assert int(got["found"]) >= 1             # numpy's own OpenBLAS
    assert got["told"] == got["found"]
    before, after = map(int, got["threads"].split())
    assert after <= before
    if got["workers"] == "True":        # none on one core, or with OPENBLAS_NUM_THREADS=1
        assert after < before
    assert got["same bits"] == "True"          # the workers hold no state between calls


@linux_only
def test_another_python_thread_leaves_the_pools_alone():
    got = run("busy")
    assert got["told"] == "0"
    before, after = map(int, got["threads"].split())
    assert after == before
    assert got["same bits"] == "True"


@linux_only
def test_switched_off_the_program_keeps_its_workers():
    got = run("alone", **{blas_pools.ENV: "0"})
    assert got["told"] == "0"
    before, after = map(int, got["threads"].split())
    assert after == before


@pytest.mark.parametrize("mode, rests", [("on", [1]), ("off", [])])
def test_a_torch_free_read_rests_the_pools_first(monkeypatch, mode, rests):
    """Only a read for the torch-free path (a process without torch: a one-shot cv2.dnn
    program) ends the workers; a process on the torch path keeps them as they are."""
    from caffe_compat import dnn, lite
    from tests.caffe_compat.dnn import nets
    calls = []
    monkeypatch.setattr(blas_pools, "rest_idle_pools", lambda: calls.append(1) or 0)
    monkeypatch.setattr(lite, "MODE", mode)
    text, blobs = nets.probe()
    net = dnn.readNetFromCaffe(text.encode(), nets.caffemodel_bytes(text, blobs, seed=1))
    assert calls == rests
    assert net.getLayerNames()
