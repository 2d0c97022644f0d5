"""What reproduces bit for bit: a rerun with the same kernels does; another instruction set's
kernels in torch's ATen do not (docs/reproduction.md, "What reproduces bit for bit")."""
import json
import os
import subprocess
import sys

import pytest
import torch

from caffe_compat.kernels import numerics
from tests.conftest import REPO

# a few SGD iterations of a small conv + inner-product regressor from fixed data and seeds;
# prints the sha256 of every learned parameter and the process's kernel fingerprint
TRAIN = r"""
import hashlib, json, sys, tempfile, os
import h5py, numpy as np, torch
from caffe_compat import get_solver
from caffe_compat.kernels.numerics import kernel_fingerprint
folder = sys.argv[1]
net = '''
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "%s/train.txt" batch_size: 8 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 16 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc"
        inner_product_param { num_output: 64 weight_filler { type: "xavier" } } }
layer { name: "relu2" type: "ReLU" bottom: "fc" top: "fc" }
layer { name: "out" type: "InnerProduct" bottom: "fc" top: "out"
        inner_product_param { num_output: 1 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "label" top: "loss" }
''' % folder
solver = os.path.join(folder, "solver.prototxt")
with open(solver, "w") as f:
    f.write('net_param { %s } base_lr: 0.05 momentum: 0.9 lr_policy: "fixed" max_iter: 4 '
            'display: 0 random_seed: 3 solver_mode: CPU snapshot_after_train: false' % net)
s = get_solver(solver)
s.step(4)
h = hashlib.sha256()
for blobs in s.net.params.values():
    for b in blobs:
        h.update(b.detach().numpy().tobytes())
print(json.dumps({"params": h.hexdigest(), "kernels": kernel_fingerprint()}))
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    import h5py
    import numpy as np
    d = tmp_path_factory.mktemp("numerics")
    rng = np.random.default_rng(0)
    with h5py.File(d / "train.h5", "w") as f:
        f["data"] = rng.random((32, 1, 20, 20), dtype=np.float32)
        f["label"] = rng.random((32, 1), dtype=np.float32)
    (d / "train.txt").write_text(str(d / "train.h5") + "\n")
    return d


def _run(folder, **env):
    full = {k: v for k, v in os.environ.items() if k not in numerics.KERNEL_VARIABLES}
    full.update(env, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", TRAIN, str(folder)], env=full, check=True,
                         capture_output=True, text=True, cwd=str(REPO))
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow        # four training processes (about 15 s on 2 cores)
def test_rerun_is_bit_identical_and_another_isa_is_not(folder):
    first = _run(folder)
    again = _run(folder, OMP_NUM_THREADS="1")          # the thread count changes nothing
    assert again["params"] == first["params"]
    capability = first["kernels"]["aten_cpu_capability"]
    if capability == "DEFAULT":
        pytest.skip("ATen already runs its portable kernels here: no wider set to compare")
    other = _run(folder, ATEN_CPU_CAPABILITY="default")
    assert other["kernels"]["aten_cpu_capability"] == "DEFAULT"
    assert other["kernels"]["ATEN_CPU_CAPABILITY"] == "default"
    # the same data, seeds and code: only ATen's kernels differ, and so do the weights
    assert other["params"] != first["params"]
    if capability == "AVX2":
        pinned = _run(folder, **numerics.PINS["avx2"])     # this machine's own code paths
        assert pinned["params"] == first["params"]


def test_fingerprint_and_pins(monkeypatch):
    fp = numerics.kernel_fingerprint()
    assert fp["torch"] == torch.__version__
    assert fp["aten_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(numerics.KERNEL_VARIABLES) <= set(fp)
    for name in numerics.KERNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert numerics.pin_kernels("avx2") == numerics.PINS["avx2"]
    assert os.environ["MKL_CBWR"] == "AVX2"
    with pytest.raises(ValueError, match="avx2, avx512, portable"):
        numerics.pin_kernels("sse")
