"""numpy's BLAS pool is set to one thread at the first pass (caffe_compat.parallel.numpy_blas),
unless the program chose its threads."""
import json
import os
import subprocess
import sys

import pytest

from caffe_compat.parallel import numpy_blas

threadpoolctl = pytest.importorskip("threadpoolctl")

PROGRAM = r"""
import json, sys
import numpy as np
from threadpoolctl import threadpool_info

def numpy_threads():
    return sorted(i["num_threads"] for i in threadpool_info()
                  if i["user_api"] == "blas" and "numpy" in i["filepath"].lower())

a = np.random.default_rng(0).standard_normal((300, 500)).astype(np.float32)
before_threads = numpy_threads()
before = a @ a.T
scale = float(abs(before).max())
import caffe_compat
net = caffe_compat.Net('''name: "lr"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 4 dim: 8 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 2 } }''')
net.forward()
after = a @ a.T
print(json.dumps({"before": before_threads, "after": numpy_threads(),
                  "difference": float(abs(after - before).max()) / scale}))
"""


def _run(**env_extra):
    env = {k: v for k, v in os.environ.items() if k not in numpy_blas.CHOSEN_BY + (numpy_blas.ENV_KEEP,)}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_pass_sets_numpys_blas_to_one_thread_with_the_same_bits():
    got = _run()
    if not got["before"]:
        pytest.skip("numpy's BLAS is not a library threadpoolctl sees")
    assert got["after"] == [1] * len(got["before"])
    # float32 products of 500 terms, summed in another order on one thread: a few roundings
    assert got["difference"] < 1e-5


# one way of choosing in the default suite, the other two under -m slow (a process each)
@pytest.mark.parametrize("env", [{"OPENBLAS_NUM_THREADS": "2"},
                                 pytest.param({"OMP_NUM_THREADS": "2"}, marks=pytest.mark.slow),
                                 pytest.param({"CAFFE_COMPAT_NUMPY_BLAS": "keep"},
                                              marks=pytest.mark.slow)])
def test_a_program_that_chose_its_blas_threads_keeps_them(env):
    got = _run(**env)
    assert got["after"] == got["before"]


def test_limit_once_reads_the_environment_once(monkeypatch):
    monkeypatch.setattr(numpy_blas, "_state", {"done": False, "limited": ()})
    assert numpy_blas.limit_once({"CAFFE_COMPAT_NUMPY_BLAS": "keep"}) == ()
    assert numpy_blas._state["done"]
    assert numpy_blas.limit_once({}) == ()        # decided already: nothing more is set


def test_only_libraries_that_numpy_or_scipy_ship_count():
    assert numpy_blas._shipped("/venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_.so")
    assert numpy_blas._shipped("/venv/lib/site-packages/scipy_openblas32/lib/libopenblas.so")
    assert not numpy_blas._shipped("/usr/lib/x86_64-linux-gnu/libopenblas.so.0")
    assert not numpy_blas._shipped("/venv/lib/site-packages/torch/lib/libgomp.so.1")
