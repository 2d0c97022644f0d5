"""caffe_compat.kernels.memory: glibc keeps freed blocks for reuse (Caffe-like), once per process."""
import os
import subprocess
import sys

import pytest

CODE = ("from caffe_compat.kernels.memory import retain_freed_memory as r; "
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
def test_large_blocks_come_from_the_heap():
    """With the setting, a 64 MB tensor is carved from glibc's heap (which keeps freed blocks
    for the next pass) instead of a private mapping that glibc unmaps when it is freed
    (glibc's own accounting, mallinfo2: bytes in mmapped blocks)."""
    code = "\n".join([
        "import ctypes, sys, torch",
        "from caffe_compat.kernels.memory import retain_freed_memory",
        "if sys.argv[1] == '1':",
        "    retain_freed_memory()",
        "class M(ctypes.Structure):",
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks',",
        "                'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]",
        "libc = ctypes.CDLL('libc.so.6')",
        "libc.mallinfo2.restype = M",
        "t = torch.ones(16 * 2**20)",
        "print(libc.mallinfo2().hblkhd)"])
    env = dict(os.environ)
    env.pop("CAFFE_COMPAT_KEEP_FREED_MEMORY", None)
    mapped = {}
    for flag in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", code, flag], env=env, capture_output=True,
                             text=True)
        if out.returncode != 0 and "mallinfo2" in out.stderr:
            pytest.skip("glibc without mallinfo2")
        assert out.returncode == 0, out.stderr
        mapped[flag] = int(out.stdout.split()[-1])
    assert mapped["0"] >= 64 * 2**20      # glibc's default: its own mapping
    assert mapped["1"] < 64 * 2**20       # with the setting: the heap
