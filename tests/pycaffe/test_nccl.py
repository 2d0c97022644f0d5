"""pycaffe's data-parallel surface (caffe.NCCL, set_solver_count / set_solver_rank,
solver.add_callback(nccl)) on two gloo CPU processes, against one process on the doubled
batch."""
import os
import subprocess
import sys

import numpy as np
import pytest

from caffe_compat import get_solver
from caffe_compat.io import caffemodel as cm
from tests.small_training import make_small

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _weights(path):
    proto = cm.read_caffemodel(path)
    return {(lp.name, i): cm.blob_to_array(b) for lp in proto.layer
            for i, b in enumerate(lp.blobs)}


@pytest.mark.parametrize("mode", ["cpu", "held"])
def test_pycaffe_nccl_two_processes_equal_the_doubled_batch(tmp_path, monkeypatch, mode):
    """``held``: both processes in GPU mode on the device stand-in, holding a parameter's data
    and diff arrays through the training."""
    folder = make_small(tmp_path, "SGD", extra="", max_iter=8, test_interval=4)
    net = (tmp_path / "net.prototxt").read_text()
    (tmp_path / "net.prototxt").write_text(net.replace("batch_size: 6", "batch_size: 3"))
    import caffe
    uid = caffe.NCCL.new_uid().decode("ascii")
    procs = [subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "pycaffe",
                                                            "nccl_program.py"),
                               folder, str(r), "2", uid] + (["held"] if mode == "held" else []),
                              env=dict(os.environ, PYTHONPATH=ROOT,
                                       CAFFE_COMPAT_DEVICE_STANDIN="1"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    parallel = _weights(tmp_path / "snap" / "small_iter_8.caffemodel")

    monkeypatch.chdir(tmp_path)
    # the shuffles of a process's first solver, as in each of the two processes
    from caffe_compat.data.caffe_random import LIBC_RAND
    LIBC_RAND.seed(1)
    solver = get_solver("solver.prototxt", batch_size=6, snapshot_prefix="snap/one")
    solver.step(8)
    model, _ = solver.snapshot()
    one = _weights(model)
    num = sum(float(np.sum((parallel[k].astype(np.float64) - one[k]) ** 2)) for k in one)
    den = sum(float(np.sum(one[k].astype(np.float64) ** 2)) for k in one)
    # float32 sums in another order (3 + 3 rows and the all-reduce, against 6 rows)
    assert (num / den) ** 0.5 <= 1e-5
