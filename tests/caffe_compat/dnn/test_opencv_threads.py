"""``cv2.setNumThreads(n)`` reaches the engines that run ``cv2.dnn`` nets after ``install()``.

OpenCV 4's dnn runs on the count the program sets (one process per core: ``setNumThreads(1)``)
and ``cv2.getNumThreads()`` says it. Here the net runs on torch, onnxruntime or the torch-free
path's session, each with its own threads; each must follow OpenCV's count, read when the net
is read and when a forward starts. Each case runs in a child process with
``CAFFE_COMPAT_THREADS=2`` (two threads fixed, the monitor of other processes' load off, so
the machine's other work cannot lower the count for us) on a net whose convolution is large
enough for the policy to use both (more than ``SMALL_WORK`` multiply-adds): a first forward on
two threads, then ``cv2.setNumThreads(1)`` and a forward on one, checked where each engine
keeps its count (torch's ``get_num_threads``, the onnxruntime session's
``intra_op_num_threads``). The timing case measures what a user sees: CPU time over wall time
of forwards after ``setNumThreads(1)`` is about 1.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# a child importing cv2, the package and (for two cases) torch, and reading a small net
TIMEOUT = 300

NET = """name: "wide"
input: "data" input_shape { dim: 1 dim: 3 dim: 96 dim: 96 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 32 kernel_size: 3
    weight_filler { type: "gaussian" std: 0.1 } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
  convolution_param { num_output: 32 kernel_size: 3
    weight_filler { type: "gaussian" std: 0.05 } bias_filler { type: "constant" value: 0 } } }
"""

CHILD = r"""
import json, os, sys
if os.environ["CASE"] != "torch-free":
    import torch
import cv2
import numpy as np
from caffe_compat import dnn
dnn.install()
x = np.random.default_rng(0).random((1, 3, 96, 96), dtype=np.float32)


def count(net):
    if "torch" not in sys.modules:
        # (a shape other than the definition's runs on the session with free lengths)
        *_, session = net._torch_free.plans()[-1]
        return session.session.get_session_options().intra_op_num_threads
    if os.environ["CASE"] == "onnxruntime":
        from caffe_compat.inference.engines.threads import engine_threads
        return engine_threads()      # the count the engine's session is chosen by
    return torch.get_num_threads()


net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
net.setInput(x)
first = net.forward()
before = count(net)
cv2.setNumThreads(1)
net.setInput(x)
second = net.forward()
after = count(net)
print(json.dumps({"before": before, "after": after, "opencv": cv2.getNumThreads(),
                  "torch": "torch" in sys.modules,
                  "same": bool(np.array_equal(first, second))}))
"""


@pytest.fixture(scope="module")
def wide_net(tmp_path_factory):
    """The net and a caffemodel of its fillers' values (written by our engine)."""
    from caffe_compat import Net
    from caffe_compat.io.caffemodel import write_caffemodel
    folder = tmp_path_factory.mktemp("wide")
    proto = folder / "wide.prototxt"
    proto.write_text(NET)
    net = Net(str(proto), phase="test")
    model = folder / "wide.caffemodel"
    write_caffemodel(net.to_proto(with_blobs=True), str(model))
    return str(proto), str(model)


def _child(case, net, script=CHILD):
    env = dict(os.environ, PYTHONPATH=str(REPO), CASE=case, CAFFE_COMPAT_THREADS="2")
    env.pop("OMP_NUM_THREADS", None)
    if case == "torch-free":            # onnxruntime's session (OpenCV 5's own reader, the
        env["CAFFE_COMPAT_TORCH_FREE_RUNTIME"] = "onnxruntime"   # other runtime, is OpenCV's)
    elif case == "torch":
        env["CAFFE_COMPAT_ENGINE"] = "torch"
    elif case == "onnxruntime":
        env["CAFFE_COMPAT_ENGINE"] = "onnxruntime"
    else:                               # a net that kept running: the torch path's engines
        env["CAFFE_COMPAT_TORCH_FREE"] = "off"
    got = subprocess.run([sys.executable, "-c", script, *net], env=env, capture_output=True,
                         text=True, timeout=TIMEOUT)
    assert got.returncode == 0, got.stderr[-3000:]
    return json.loads(got.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["torch-free", "torch", "onnxruntime"])
def test_set_num_threads_reaches_the_engine(wide_net, case):
    pytest.importorskip("onnxruntime")
    got = _child(case, wide_net)
    assert got["torch"] == (case != "torch-free"), got
    assert got["before"] == 2, got          # CAFFE_COMPAT_THREADS=2 before the call
    assert got["after"] == 1 and got["opencv"] == 1, got
    assert got["same"], got                 # the thread count does not change the outputs


TIMED = r"""
import glob, json, os, sys, time
import cv2
import numpy as np
from caffe_compat import dnn


def cpu_by_thread():
    out = {}
    for path in glob.glob("/proc/self/task/*/stat"):
        fields = open(path).read().rsplit(")", 1)[1].split()
        out[path] = int(fields[11]) + int(fields[12])     # utime + stime, in ticks
    return out


dnn.install()
cv2.setNumThreads(1)
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
x = np.random.default_rng(0).random((8, 3, 96, 96), dtype=np.float32)
net.setInput(x)
net.forward()
ticks = cpu_by_thread()
cpu, wall = time.process_time(), time.perf_counter()
for _ in range(20):
    net.setInput(x)
    net.forward()
ratio = (time.process_time() - cpu) / (time.perf_counter() - wall)
used = {k: v - ticks.get(k, 0) for k, v in cpu_by_thread().items()}
total = sum(used.values()) or 1
print(json.dumps({"ratio": ratio, "busy": sum(1 for v in used.values() if v > 0.1 * total)}))
"""


@pytest.mark.timing
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux's per-thread times")
def test_one_thread_uses_one_core(wide_net):
    """20 forwards at batch 8 after ``setNumThreads(1)``, on the torch path's engines (a net
    that kept running): one thread does the work (a thread busy for more than a tenth of the
    process's CPU time: the main thread only; two before OpenCV's count was followed), and
    CPU time over wall time is about 1 (1.94 before, on a quiet 2-core machine; 1.25: one
    thread's ratio plus the session's short-lived helpers and the clocks' resolution). The
    ratio tells only on a quiet machine: while other processes hold our cores, two threads
    measure below 1 too; the count of busy threads tells on any."""
    got = _child("long-running", wide_net, TIMED)
    assert got["busy"] == 1 and got["ratio"] < 1.25, got


POLICY_CHILD = r"""
import sys
import cv2
import numpy as np
from caffe_compat import dnn
from caffe_compat.dnn import opencv_threads
dnn.install()
if sys.argv[3] == "one":
    cv2.setNumThreads(1)
net = cv2.dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
net.setInput(np.ones((1, 3, 16, 16), np.float32))
net.forward()
made = "caffe_compat.parallel.threads" in sys.modules
limit = sys.modules["caffe_compat.parallel.threads"]._state["outside"] if made else None
cv2.setNumThreads(1)
net.forward()
from caffe_compat.parallel import threads
print(made, limit, threads._state["outside"])
"""


@pytest.mark.parametrize("count", ["default", "one"])
def test_the_default_count_needs_no_thread_policy(wide_net, count):
    """A cv2.dnn program that keeps OpenCV's default count never imports the thread policy
    (the count sets no limit); one that sets a count below the CPUs has it set at the read,
    and a count set after a read reaches the policy at the next forward either way."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cpus < 2:
        pytest.skip("one CPU: OpenCV's count of 1 is its default")
    env = dict(os.environ, PYTHONPATH=REPO, CAFFE_COMPAT_TORCH_FREE="on")
    got = subprocess.run([sys.executable, "-c", POLICY_CHILD, *wide_net, count], env=env,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert got.returncode == 0, got.stderr[-2000:]
    want = "False None 1" if count == "default" else "True 1 1"
    assert got.stdout.split("\n")[-2] == want, got.stdout
