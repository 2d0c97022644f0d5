"""caffe_compat.memory: glibc keeps freed blocks for reuse (Caffe-like), once per process."""
import os
import subprocess
import sys

import pytest

CODE = ("from caffe_compat.memory import retain_freed_memory as r; "
        "print(r(), r())")


def _run(env_value):
    env = dict(os.environ)
    env.pop("CAFFE_COMPAT_KEEP_FREED_MEMORY", None)
    if env_value is not None:
        env["CAFFE_COMPAT_KEEP_FREED_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_applied_once_by_default_and_off_by_environment():
    assert _run(None) == ["True", "True"]
    assert _run("0") == ["False", "False"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_large_blocks_are_reused_not_refaulted():
    """After the setting, freeing and re-allocating a 64 MB tensor costs no new page faults
    (the block stays in the heap); without it, glibc unmaps it and every page faults again."""
    code = ("import resource, sys, torch; from caffe_compat.memory import retain_freed_memory;"
            "sys.argv[1] == '1' and retain_freed_memory();"
            "t = torch.ones(16 * 2**20); del t;"
            "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt;"
            "t = torch.ones(16 * 2**20);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)")
    env = dict(os.environ)
    env.pop("CAFFE_COMPAT_KEEP_FREED_MEMORY", None)
    faults = {}
    for flag in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", code, flag], env=env, capture_output=True,
                             text=True, check=True)
        faults[flag] = int(out.stdout.split()[-1])
    # 64 MB is 16,384 pages of 4 KiB: refaulted without the setting, reused with it
    assert faults["0"] > 10000
    assert faults["1"] < 1000
