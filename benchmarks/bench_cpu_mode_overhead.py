"""What CPU mode pays for GPU mode's memory rule: a pycaffe forward loop of a small net
(``net.blobs['data'].data[...] = x; net.forward()``), timed in this checkout and in another
(``--other``, e.g. a checkout of the commit before), in separate processes, alternately
(A, B, A, B, ...); prints the median time per forward of each and the ratio this / other.

    python benchmarks/bench_cpu_mode_overhead.py --other /path/to/checkout [--rounds 5]

Both engines of a CPU net are timed: the array engine (the default for this deploy net) and
the torch engine (``CAFFE_COMPAT_ARRAY_NET=0``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NET = """name: 'small' input: 'data' input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv'
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: 'xavier' } } }
layer { type: 'ReLU' name: 'relu' bottom: 'conv' top: 'conv' }
layer { type: 'InnerProduct' name: 'ip' bottom: 'conv' top: 'ip'
  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }
layer { type: 'Softmax' name: 'prob' bottom: 'ip' top: 'prob' }
"""

LOOP = """
import sys, time, numpy as np, caffe
net = caffe.Net(sys.argv[1], caffe.TEST)
x = np.random.RandomState(0).rand(2, 3, 8, 8).astype(np.float32)
for _ in range(200):
    net.blobs['data'].data[...] = x; net.forward()
n = int(sys.argv[2])
t = time.perf_counter()
for _ in range(n):
    net.blobs['data'].data[...] = x; net.forward()
print((time.perf_counter() - t) / n)
"""


def once(checkout, net, n, torch_engine):
    env = dict(os.environ, PYTHONPATH=checkout, OMP_NUM_THREADS="1")
    if torch_engine:
        env["CAFFE_COMPAT_ARRAY_NET"] = "0"
    out = subprocess.run([sys.executable, "-c", LOOP, net, str(n)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", required=True, help="the checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--forwards", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        net = os.path.join(tmp, "small.prototxt")
        with open(net, "w") as f:
            f.write(NET)
        for torch_engine in (False, True):
            this, other = [], []
            for _ in range(args.rounds):
                this.append(once(REPO, net, args.forwards, torch_engine))
                other.append(once(args.other, net, args.forwards, torch_engine))
            a, b = statistics.median(this), statistics.median(other)
            engine = "torch" if torch_engine else "array"
            print(f"{engine} engine: this {a * 1e6:.1f} us/forward, other {b * 1e6:.1f} "
                  f"us/forward, ratio {a / b:.3f}")


if __name__ == "__main__":
    main()
