"""Does the Data layer feed training faster than the net consumes it? And does its memory stay
flat on a large database?

Speed (one run, ratios of rates measured in the same process): the CNN+D train net
(prototxt/cnnd_train_val.prototxt) with its HDF5 layer replaced by a Data layer reading an LMDB
of 1 x 104 x 104 Datums (crop_size 96, mirror, scale 1/256), batch 128, trained by
caffe_compat's SGD solver (prototxt/cnnd_solver.prototxt):

- ``data``: batches/s of the Data layer alone (its prefetch thread reading, parsing and
  transforming; measured after the queue of prefetched batches is drained);
- ``train``: iterations/s of the solver when the data costs nothing (the layer hands out one
  ready batch): what the net consumes;
- ``fed``: iterations/s of the same solver fed by the Data layer.

It prints ``data / train`` (the margin of the data pipeline, >= 2 wanted) and ``fed / train``
(1.0 when reading is hidden behind the computation). With ``--caffenet`` the same is done for
the CaffeNet train net (3 x 256 x 256 Datums, crop 227) at ``--caffenet-batch``.

Memory (``--rss-gb G``): writes an LMDB of G GB (3 x 256 x 256 Datums) in a temporary folder,
reads it once through a Data layer (crop 227, mirror, batch 64) and prints the process RSS
(and its anonymous part) sampled after each batch: first, peak, last.

    python benchmarks/bench_data.py [--iterations 3] [--no-cnnd] [--caffenet] [--rss-gb 1.0]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from caffe_compat import Net, get_solver  # noqa: E402
from caffe_compat.data import db as db_io  # noqa: E402
from caffe_compat.data.images import raw_datum  # noqa: E402
from caffe_compat.io.prototxt import read_net, write_prototxt  # noqa: E402


def make_lmdb(path, n, shape, seed=0, progress=False):
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 256, (64,) + shape, dtype=np.uint8)
    with db_io.create_db(path, "lmdb") as w:
        for i in range(n):
            w.put(f"{i:08d}".encode(), raw_datum(block[i % 64], i % 10).SerializeToString())
            if (i + 1) % 1000 == 0:
                w.commit()
                if progress:
                    print(f"  wrote {i + 1}/{n} records", file=sys.stderr)
    return path


def data_layer_text(source, batch, crop, scale=None):
    scale = f" scale: {scale}" if scale else ""
    return (f'layer {{ name: "data" type: "Data" top: "data" top: "label"\n'
            f'  include {{ phase: TRAIN }}\n'
            f'  data_param {{ source: "{source}" backend: LMDB batch_size: {batch} }}\n'
            f'  transform_param {{ crop_size: {crop} mirror: true{scale} }} }}\n')


def train_net_with_data(net_file, source, batch, crop, scale, folder):
    """The TRAIN net of ``net_file`` with its data layer replaced by a Data layer."""
    net = read_net(net_file)
    keep = [lp for lp in net.layer
            if not (lp.type in ("HDF5Data", "Data", "ImageData")
                    or any(r.phase == 1 for r in lp.include))]
    del net.layer[:]
    from caffe_compat.io.prototxt import parse_net
    net.layer.extend(parse_net(data_layer_text(source, batch, crop, scale)).layer)
    net.layer.extend(keep)
    path = os.path.join(folder, "train.prototxt")
    write_prototxt(net, path)
    return path


def solver_for(net_path, folder):
    path = os.path.join(folder, "solver.prototxt")
    with open(path, "w") as f:
        f.write(f'net: "{net_path}"\nbase_lr: 0.001\nmomentum: 0.9\nweight_decay: 0.0005\n'
                'lr_policy: "fixed"\nmax_iter: 100000\ndisplay: 0\nrandom_seed: 1\n'
                f'snapshot_prefix: "{folder}/snap"\n')
    return path


def data_rate(source, batch, crop, scale, batches):
    net = Net(data_layer_text(source, batch, crop, scale), phase="train", seed=1)
    layer = net.layers["data"]
    for _ in range(layer.prefetch_depth + 2):     # drain what was prefetched
        net.forward()
    t0 = time.perf_counter()
    for _ in range(batches):
        net.forward()
    dt = time.perf_counter() - t0
    layer.close()
    return batches / dt


def _data_layers(solver):
    return [m for m in solver.net.layers.values() if type(m).__name__ == "Data"]


def train_rates(solver_path, iterations):
    """(train, fed) iterations/s: with a free batch, then fed by the Data layer."""
    solver = get_solver(solver_path)
    (layer,) = _data_layers(solver)
    solver.step(2)                                # warm up (and fill the prefetch queue)
    fixed = layer.next_batch()
    real_next = layer.next_batch
    layer.next_batch = lambda: fixed
    t0 = time.perf_counter()
    solver.step(iterations)
    train = iterations / (time.perf_counter() - t0)
    layer.next_batch = real_next
    for _ in range(layer.prefetch_depth + 1):     # consume the batches prefetched meanwhile
        real_next()
    t0 = time.perf_counter()
    solver.step(iterations)
    fed = iterations / (time.perf_counter() - t0)
    layer.close()
    return train, fed


def speed(name, net_file, shape, crop, scale, batch, iterations, folder):
    source = make_lmdb(os.path.join(folder, f"{name}_lmdb"), max(4 * batch, 256), shape)
    net_path = train_net_with_data(net_file, source, batch, crop, scale, folder)
    train, fed = train_rates(solver_for(net_path, folder), iterations)
    data = data_rate(source, batch, crop, scale, max(iterations, 20))
    print(f"{name}: batch {batch}, Datums {'x'.join(map(str, shape))}, crop {crop}")
    print(f"  Data layer alone        {data:9.2f} batches/s")
    print(f"  training step (no data) {train:9.2f} iterations/s")
    print(f"  training fed by Data    {fed:9.2f} iterations/s")
    print(f"  data / train = {data / train:.1f}  (>= 2 wanted)   fed / train = "
          f"{fed / train:.2f}  (1.0: reading hidden behind the computation)")
    return data / train


def rss_kb():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def rss(gb, folder):
    shape = (3, 256, 256)
    n = int(gb * 2**30 / (np.prod(shape) + 20)) + 1
    print(f"writing an LMDB of {n} Datums of {'x'.join(map(str, shape))} ({gb:g} GB)...",
          file=sys.stderr)
    source = make_lmdb(os.path.join(folder, "big_lmdb"), n, shape, progress=True)
    size = os.path.getsize(os.path.join(source, "data.mdb"))
    batch = 64
    net = Net(data_layer_text(source, batch, 227), phase="train", seed=1)
    samples = []
    for i in range(-(-n // batch)):
        net.forward()
        samples.append(rss_kb())
    net.layers["data"].close()
    mb = {k: [s[k] / 1024 for s in samples] for k in samples[0]}
    print(f"read {len(samples) * batch} Datums ({size / 2**30:.2f} GiB data.mdb) in batches of "
          f"{batch}")
    for k, v in mb.items():
        print(f"  {k:<8} first {v[0]:8.1f} MB   peak {max(v):8.1f} MB   last {v[-1]:8.1f} MB"
              f"   peak - first {max(v) - v[0]:7.1f} MB")
    return max(mb["VmRSS"]) - mb["VmRSS"][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--no-cnnd", action="store_true", help="skip the CNN+D speed run")
    ap.add_argument("--caffenet", action="store_true")
    ap.add_argument("--caffenet-batch", type=int, default=16)
    ap.add_argument("--rss-gb", type=float, default=0.0)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-data-")
    try:
        print(f"(machine: {os.cpu_count()} cores, shared with other work; figures are ratios "
              "measured in this run)")
        if not args.no_cnnd:
            speed("CNN+D", os.path.join(REPO, "prototxt", "cnnd_train_val.prototxt"),
                  (1, 104, 104), 96, 0.00390625, args.batch, args.iterations, folder)
        if args.caffenet:
            shared = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
            speed("CaffeNet", os.path.join(shared, "public-nets", "bvlc_nets",
                                           "bvlc_reference_caffenet__train_val.prototxt"),
                  (3, 256, 256), 227, None, args.caffenet_batch, args.iterations, folder)
        if args.rss_gb:
            rss(args.rss_gb, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
