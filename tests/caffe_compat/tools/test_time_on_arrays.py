"""``caffe-compat time`` on the array engine: the same lines as on torch (whose lines are real
Caffe's, test_time_command.py) and no torch loaded, for a net reading an LMDB through a Data
layer as Caffe's LeNet does."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from caffe_compat.kernels import caffe_products
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not caffe_products.available(),
                                reason="the compiled kernel is not built")

NET = """
name: "LeNetish"
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        transform_param { scale: 0.00390625 }
        data_param { source: "digits_lmdb" batch_size: 8 backend: LMDB } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1"
        inner_product_param { num_output: 16 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""

CAFFE_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ (\S+\] .*)$")


def _write_lmdb(path, count=20):
    import lmdb
    from caffe_compat.proto import caffe_pb2
    rng = np.random.default_rng(3)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for k in range(count):
            datum = caffe_pb2.Datum(channels=1, height=12, width=12, label=int(k % 10),
                                    data=rng.integers(0, 256, 144, dtype=np.uint8).tobytes())
            txn.put(f"{k:08d}".encode(), datum.SerializeToString())
    env.close()


def _time(folder, array_engine):
    program = ("import sys; from caffe_compat.cli.main import main; rc = main(sys.argv[1:]); "
               "print('torch loaded:', 'torch' in sys.modules); sys.exit(rc)")
    env = dict(os.environ, PYTHONPATH=str(REPO), CAFFE_COMPAT_ARRAY_NET=str(int(array_engine)))
    run = subprocess.run([sys.executable, "-c", program, "time", "-model", "net.prototxt",
                          "-iterations", "3"], cwd=folder, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [m.group(1) for m in map(CAFFE_LINE.match, run.stderr.splitlines()) if m]
    return lines, run.stdout


def _masked(lines):
    return [re.sub(r"[0-9][0-9.e+-]*", "#", line) for line in lines]


def test_time_on_arrays_prints_the_torch_engines_lines_without_torch(tmp_path):
    _write_lmdb(tmp_path / "digits_lmdb")
    (tmp_path / "net.prototxt").write_text(NET)
    ours, out = _time(tmp_path, True)
    assert "torch loaded: False" in out
    theirs, out_torch = _time(tmp_path, False)
    assert "torch loaded: True" in out_torch
    assert _masked(ours) == _masked(theirs)
    # (the initial losses differ: each process seeds Caffe's stream from the OS, as Caffe;
    # the values are checked against torch's in tests/caffe_compat/array_net)
    assert any("Top shape: 8 4 8 8 (2048)" in ln for ln in ours)
