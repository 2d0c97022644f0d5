"""A forward through pycaffe's ``caffe.Net`` against ``caffe_compat.Net``, in one run.

    python benchmarks/bench_pycaffe_forward.py [--seconds 6] [--nets cnnd caffenet]

``caffe.Net`` keeps Caffe's persistent blobs (numpy views alias them) and runs layer by
layer; the peer is the engine's own inference forward (``torch.no_grad()``, its default
chunking). Both get the same input: pycaffe's way (``net.blobs['data'].data[...] = x;
net.forward()``) and the engine's (``net.forward(data=x)``), alternately (A, B, A, B, ...);
the script prints the median time of each and the ratio caffe.Net / caffe_compat.Net
(the goal: at most 1.05), and checks that both give the same output.
Nets: ``cnnd`` (the project's CNN+D deploy, 32 x 1 x 96 x 96) and ``caffenet`` (a
CaffeNet/AlexNet deploy written with caffe.NetSpec, 10 x 3 x 227 x 227, fillers' weights).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import caffe  # noqa: E402
import caffe_compat  # noqa: E402


def caffenet_deploy():
    from caffe import layers as L
    from caffe import params as P
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[10, 3, 227, 227]))
    gauss = dict(type="gaussian", std=0.01)

    def conv(bottom, k, nout, stride=1, pad=0, group=1):
        c = L.Convolution(bottom, kernel_size=k, stride=stride, num_output=nout, pad=pad,
                          group=group, weight_filler=gauss)
        return c, L.ReLU(c, in_place=True)
    n.conv1, n.relu1 = conv(n.data, 11, 96, stride=4)
    n.pool1 = L.Pooling(n.relu1, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    n.norm1 = L.LRN(n.pool1, local_size=5, alpha=1e-4, beta=0.75)
    n.conv2, n.relu2 = conv(n.norm1, 5, 256, pad=2, group=2)
    n.pool2 = L.Pooling(n.relu2, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    n.norm2 = L.LRN(n.pool2, local_size=5, alpha=1e-4, beta=0.75)
    n.conv3, n.relu3 = conv(n.norm2, 3, 384, pad=1)
    n.conv4, n.relu4 = conv(n.relu3, 3, 384, pad=1, group=2)
    n.conv5, n.relu5 = conv(n.relu4, 3, 256, pad=1, group=2)
    n.pool5 = L.Pooling(n.relu5, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    n.fc6 = L.InnerProduct(n.pool5, num_output=4096, weight_filler=gauss)
    n.relu6 = L.ReLU(n.fc6, in_place=True)
    n.drop6 = L.Dropout(n.relu6, in_place=True)
    n.fc7 = L.InnerProduct(n.drop6, num_output=4096, weight_filler=gauss)
    n.relu7 = L.ReLU(n.fc7, in_place=True)
    n.drop7 = L.Dropout(n.relu7, in_place=True)
    n.fc8 = L.InnerProduct(n.drop7, num_output=1000, weight_filler=gauss)
    n.prob = L.Softmax(n.fc8)
    return str(n.to_proto())


def deploy_file(name):
    if name == "cnnd":
        return os.path.join(REPO, "prototxt", "cnnd_deploy.prototxt"), (32, 1, 96, 96)
    f = tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False)
    f.write(caffenet_deploy())
    f.close()
    return f.name, (10, 3, 227, 227)


def measure(name, seconds):
    path, shape = deploy_file(name)
    caffe.set_random_seed(0)
    py = caffe.Net(path, caffe.TEST)
    engine = caffe_compat.Net(path, phase="test")
    engine.load_caffe_state_dict(py._net.caffe_state_dict())
    x = np.random.RandomState(0).rand(*shape).astype(np.float32)
    py.blobs["data"].reshape(*shape)
    data = py.blobs["data"].data
    out_name = py.outputs[0]

    def run_pycaffe():
        data[...] = x
        return py.forward()[out_name]

    def run_engine():
        with torch.no_grad():
            return engine.forward(data=x)[out_name]

    diff = float(np.abs(run_pycaffe() - run_engine().numpy()).max())
    ta, tb = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(ta) < 5:
        t = time.perf_counter()
        run_pycaffe()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_engine()
        tb.append(time.perf_counter() - t)
    a, b = statistics.median(ta), statistics.median(tb)
    print(f"{name:9s} batch {shape[0]:3d}: caffe.Net {a * 1e3:8.1f} ms  caffe_compat.Net "
          f"{b * 1e3:8.1f} ms  ratio {a / b:.3f}  ({len(ta)} pairs, max |diff| {diff:.1e})")
    return a / b


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--nets", nargs="+", default=["cnnd", "caffenet"],
                   choices=["cnnd", "caffenet"])
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    ratios = [measure(n, args.seconds) for n in args.nets]
    print(f"worst ratio caffe.Net / caffe_compat.Net: {max(ratios):.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
