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



# ---------------------------------------------------------------- blobs on small pages
from caffe_compat.kernels import memory  # noqa: E402

ADVICE = ("import sys, numpy as np\n"
          "from caffe_compat.kernels import memory\n"
          "core = getattr(np, '_core', None) or np.core\n"
          "get = core.multiarray._get_madvise_hugepage\n"
          "seen = []\n"
          "set_ = core.multiarray._set_madvise_hugepage\n"
          "def spy(on):\n"
          "    seen.append(on)\n"
          "    return set_(on)\n"
          "core.multiarray._set_madvise_hugepage = spy\n"
          "a = memory.blob_zeros((3, 4))\n"
          "b = memory.blob_zeros(None, like=np.ones((2, 5), np.float32))\n"
          "print(a.dtype, a.shape, float(abs(a).sum()), b.dtype, b.shape, float(abs(b).sum()))\n"
          "print('advice after', get(), 'while allocating', seen[0::2])\n")


def _advice(**env):
    environ = dict(os.environ)
    environ.pop(memory.KEEP_ENV, None)
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", ADVICE], env=environ, capture_output=True,
                         text=True, check=True)
    return out.stdout.splitlines()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises huge pages on "
                    "Linux only")
def test_blobs_are_allocated_without_the_advice_which_then_comes_back():
    values, advice = _advice()
    assert values == "float32 (3, 4) 0.0 float32 (2, 5) 0.0"
    assert advice == "advice after True while allocating [False, False]"
    values, advice = _advice(**{memory.KEEP_ENV: "1"})       # numpy's advice kept
    assert values == "float32 (3, 4) 0.0 float32 (2, 5) 0.0"
    assert advice == "advice after True while allocating []"


def test_the_array_engines_blobs_and_parameters_come_from_blob_zeros(monkeypatch):
    from caffe_compat.array_net import net as array_net
    made = []

    def spy(shape, like=None):
        made.append(tuple(like.shape) if like is not None else tuple(shape))
        return memory.blob_zeros(shape, like)
    monkeypatch.setattr(array_net, "blob_zeros", spy)
    from caffe_compat.io import prototxt as prototxt_io
    net = array_net.build_array_net(prototxt_io.parse_net(
        'name: "n" layer { name: "data" type: "Input" top: "data" '
        'input_param { shape { dim: 2 dim: 3 } } } '
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
        'inner_product_param { num_output: 4 weight_filler { type: "constant" value: 1 } } }'),
        "TEST")
    assert net is not None
    assert (4, 3) in made and (4,) in made and (2, 3) in made and (2, 4) in made
    net.diff_of("ip")
    net.param_diff("ip", 0)
    assert made[-2:] == [(2, 4), (4, 3)]
