"""caffe_compat.kernels.small_pages: the array engine's blobs, parameters and diffs are allocated
without numpy's huge-page advice, which comes back after each allocation."""
import os
import subprocess
import sys

import pytest

from caffe_compat.kernels import small_pages as memory


ADVICE = ("import sys, numpy as np\n"
          "from caffe_compat.kernels import small_pages as memory\n"
          "core = getattr(np, '_core', None) or np.core\n"
          "get = core.multiarray._get_madvise_hugepage\n"
          "initial = get()\n"
          "seen = []\n"
          "set_ = core.multiarray._set_madvise_hugepage\n"
          "def spy(on):\n"
          "    seen.append(on)\n"
          "    return set_(on)\n"
          "core.multiarray._set_madvise_hugepage = spy\n"
          "a = memory.blob_zeros((3, 4))\n"
          "b = memory.blob_zeros(np.ones((2, 5), np.float32).shape)\n"
          "print(a.dtype, a.shape, float(abs(a).sum()), b.dtype, b.shape, float(abs(b).sum()))\n"
          "print('advice as before', get() == initial, 'while allocating', seen[0::2])\n")


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
    assert advice == "advice as before True while allocating [False, False]"
    values, advice = _advice(**{memory.KEEP_ENV: "1"})       # numpy's advice kept
    assert values == "float32 (3, 4) 0.0 float32 (2, 5) 0.0"
    assert advice == "advice as before True while allocating []"


def test_the_array_engines_blobs_and_parameters_come_from_blob_zeros(monkeypatch):
    from caffe_compat.array_net import net as array_net
    made = []

    def spy(shape):
        made.append(tuple(shape))
        return memory.blob_zeros(shape)
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
