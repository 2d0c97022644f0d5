"""Training speed of the CNN+D net: our Caffe-exact solver against a hand-written PyTorch loop.

Both train the same model (the paper's CNN+D: conv 64/128/256 5x5 with 2x2, 2x2, 4x4 ceil max
pooling, fc 300 with Dropout 0.5, fc 1, Euclidean loss) on 96x96 inputs at batch 128, with SGD
momentum 0.9, weight decay 5e-4, lr 0.01 and lr_mult 2 on biases. Ours runs the ORIGINAL solver
and net prototxts (solver_1F_CNN+D.prototxt, model_1F_CNN+D.prototxt) through
``caffe_compat.get_solver`` reading HDF5 batches from disk (forward in Caffe's summation
order, see ``caffe_compat.kernels.blas_order``; convolution gradients through the DFT where that pays,
see ``caffe_compat.kernels.dft_conv``); the reference loop uses ``torch.optim.SGD`` on batches
already in memory, once in torch's default layout (the peer of the overhead figure) and once in
channels-last layout (torch's fastest CPU layout for this net, for scale). With ``--caffe
PATH`` a real Caffe build's ``caffe time`` (forward + backward of the same original net,
batch 128, data from an HDF5 file) is measured in the same rounds. Rounds alternate between
all of them so that load from other processes affects all alike; the median seconds per
iteration of each is reported, and the ratios; process CPU time is reported too (with
``--threads 1`` it measures the work done, independent of the load other processes put on
the machine).

With ``--fast`` the solver's fast training mode (``caffe_compat.kernels.blas_order.fast_training``:
oneDNN channels-last forward products instead of Caffe's summation order, same backward) is
timed in the same rounds, as a second solver of the same seed (the two draw their Dropout
masks from one stream in turn, so their weights are not comparable here; the mode's drift is
measured by tests/caffe_compat/kernels/test_fast_training.py).

    python benchmarks/bench_train.py [--iterations 3] [--rounds 4] [--batch 128] [--fast]
                                     [--caffe /path/to/caffe]

With ``--net logreg`` or ``--net lenet`` the small nets of Caffe's examples are timed instead
(per-iteration overhead: ``benchmarks/_small_nets.py``), in milliseconds per iteration:

    python benchmarks/bench_train.py --net logreg [--iterations 500] [--rounds 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
# torch's OpenMP threads busy-wait between parallel regions; on a machine shared with other
# processes that wait takes the cores from the threads that would work (measured here: a
# ResNet-50 forward 9x slower). Passive waiting, unless the caller set a policy; it must be
# set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from caffe_compat.kernels import blas_order, dft_conv  # noqa: E402
from caffe_compat import get_solver  # noqa: E402
from caffe_compat.io.prototxt import read_net, read_solver, write_prototxt  # noqa: E402

ORIGINAL = os.environ.get("RLQ_ORIGINAL", os.path.join(os.path.dirname(REPO), "shared",
                                                       "original"))
SOLVER = os.path.join(ORIGINAL, "experiments", "solver", "solver_1F_CNN+D.prototxt")
NET = os.path.join(ORIGINAL, "experiments", "network", "model_1F_CNN+D.prototxt")


class HandWritten(nn.Module):
    """The CNN+D net written directly in PyTorch."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 5)
        self.conv2 = nn.Conv2d(64, 128, 5)
        self.conv3 = nn.Conv2d(128, 256, 5)
        self.fc4 = nn.Linear(256 * 5 * 5, 300)
        self.fc5 = nn.Linear(300, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.conv3(x)), 4, 4, ceil_mode=True)
        x = F.dropout(F.relu(self.fc4(x.flatten(1))), 0.5, self.training)
        return self.fc5(x)


def make_data(folder, rows, size):
    rng = np.random.default_rng(0)
    with h5py.File(os.path.join(folder, "train.h5"), "w") as f:
        f["data"] = rng.random((rows, 1, size, size), dtype=np.float32)
        f["label"] = rng.random((rows, 1), dtype=np.float32)
    with open(os.path.join(folder, "train.txt"), "w") as f:
        f.write(os.path.join(folder, "train.h5") + "\n")
    return os.path.join(folder, "train.txt")


def our_solver(folder, list_path, batch, device):
    param = read_solver(SOLVER)
    param.net = NET
    del param.test_iter[:]
    param.test_interval = 0
    param.snapshot = 0
    param.snapshot_after_train = False
    param.random_seed = 1
    return get_solver(param, train_source=list_path, batch_size=batch, device=device,
                      snapshot_prefix=os.path.join(folder, "snap"))


def hand_written(batch, size, device, channels_last=False):
    torch.manual_seed(1)
    model = HandWritten().to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": weights}, {"params": biases, "lr": 0.02}], lr=0.01,
                          momentum=0.9, weight_decay=0.0005)
    # (Caffe's decay_mult is 1 on biases too in this net, as torch's weight_decay.)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((batch, 1, size, size), generator=gen).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.rand((batch, 1), generator=gen).to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = ((out - y) ** 2).sum() / (2 * batch)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def caffe_timer(caffe, folder, list_path):
    """``fn(n)`` running ``caffe time`` for n iterations on the original train/val net (its
    HDF5 sources pointed at ``list_path``), returning Caffe's own per-iteration average in
    ``timed``'s form; None when the binary does not run."""
    net = read_net(NET)
    for layer in net.layer:
        if layer.type == "HDF5Data":
            layer.hdf5_data_param.source = list_path
    path = os.path.join(folder, "caffe_net.prototxt")
    write_prototxt(net, path)
    env = dict(os.environ, GLOG_minloglevel="0", GLOG_logtostderr="1",
               OPENBLAS_NUM_THREADS=str(torch.get_num_threads()))

    def run(n):
        out = subprocess.run([caffe, "time", "-model", path, "-iterations", str(n)], env=env,
                             capture_output=True, text=True, cwd=folder)
        found = re.search(r"Average Forward-Backward: ([0-9.]+) ms", out.stdout + out.stderr)
        if out.returncode != 0 or not found:
            raise RuntimeError(f"caffe time failed ({out.returncode}):\n{out.stderr[-2000:]}")
        # Caffe's own average (its start-up excluded); its CPU time is not separable from that
        return float(found.group(1)) / 1000.0, float("nan")
    return run


def _medians(rounds):
    return statistics.median(t for t, _ in rounds), statistics.median(cpu for _, cpu in rounds)


def timed(fn, n, device):
    """(wall seconds, process CPU seconds) per iteration."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(n)
    sync()
    if isinstance(result, tuple):      # an external peer measured itself
        return result
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", choices=("cnnd", "logreg", "lenet"), default="cnnd",
                    help="the CNN+D (default) or a small net of Caffe's examples")
    ap.add_argument("--iterations", type=int, default=None,
                    help="iterations per round (default 3; logreg 500, lenet 20)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fast", action="store_true",
                    help="also time the solver's fast training mode")
    ap.add_argument("--caffe", default=None,
                    help="a Caffe 1.0 `caffe` binary to time in the same rounds (CPU only)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.net != "cnnd":
        return small_net(args)
    if args.iterations is None:
        args.iterations = 3
    with tempfile.TemporaryDirectory() as folder:
        list_path = make_data(folder, max(2 * args.batch + 2, 130), args.size)
        solver = our_solver(folder, list_path, args.batch, args.device)
        step = hand_written(args.batch, args.size, args.device)
        step_cl = hand_written(args.batch, args.size, args.device, channels_last=True)
        runs = {"caffe_compat solver": (lambda n: solver.step(n)),
                "hand-written torch": (lambda n: [step() for _ in range(n)]),
                "hand-written, c-last": (lambda n: [step_cl() for _ in range(n)])}
        if args.fast:
            solver_fast = our_solver(folder, list_path, args.batch, args.device)

            def fast(n):
                with blas_order.fast_training():
                    solver_fast.step(n)
            runs["caffe_compat, fast mode"] = fast
        if args.caffe:
            if args.device != "cpu" or args.batch != 128 or args.size != 96:
                ap.error("--caffe times the original net: CPU, batch 128, 96x96 only")
            runs["Caffe 1.0 `caffe time`"] = caffe_timer(args.caffe, folder, list_path)
        for fn in runs.values():   # warm-up (allocations, kernel selection)
            fn(1)
        rounds = {label: [] for label in runs}
        for _ in range(args.rounds):
            for label, fn in runs.items():
                rounds[label].append(timed(fn, args.iterations, args.device))
    med = {label: _medians(r) for label, r in rounds.items()}
    print(f"device: {args.device}, threads: {torch.get_num_threads()}, batch {args.batch} at "
          f"{args.size}x{args.size}, {args.rounds} rounds x {args.iterations} iterations, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("our convolution backward: " + ("through the DFT where it pays (caffe_compat.kernels.dft_conv; "
          "CAFFE_COMPAT_CONV_BACKWARD=direct for torch's kernels)" if dft_conv.ENABLED
          else "torch's direct kernels (CAFFE_COMPAT_CONV_BACKWARD=direct)"))
    for label, (w, cpu) in med.items():
        print(f"{label:22s}: {w:.3f} s/iter wall ({1 / w:.3f} it/s), {cpu:.3f} s/iter CPU"
              "  rounds: " + " ".join(f"{t:.3f}" for t, _ in rounds[label]))
    (a, ca), (b, cb) = med["caffe_compat solver"], med["hand-written torch"]
    c, cc = med["hand-written, c-last"]
    print(f"ratio ours/torch        : wall {a / b:.3f} (overhead {100 * (a / b - 1):+.1f} %), "
          f"CPU {ca / cb:.3f} (overhead {100 * (ca / cb - 1):+.1f} %)")
    print(f"ratio ours/torch c-last : wall {a / c:.3f}, CPU {ca / cc:.3f}")
    if args.fast:
        f, cf = med["caffe_compat, fast mode"]
        print(f"ratio fast/torch c-last : wall {f / c:.3f}, CPU {cf / cc:.3f}; fast/exact "
              f"{f / a:.3f} (the fast mode's drift: tests/caffe_compat/kernels/test_fast_training.py)")
    if "Caffe 1.0 `caffe time`" in med:
        k, ck = med["Caffe 1.0 `caffe time`"]
        print(f"speed-up over Caffe 1.0 : {k / a:.2f}x wall (same run; Caffe's figure excludes "
              "its solver update and its data reading)")
    if args.device.startswith("cuda") and args.batch == 128:
        print(f"projected 30,000-iteration CNN+D schedule: {30000 * a / 3600:.2f} h")
    return a, b


def small_net(args):
    """``--net logreg|lenet``: ms per iteration of ours, pycaffe's and a hand-written loop."""
    import _small_nets
    if args.device != "cpu" or args.fast or args.caffe:
        raise SystemExit("--net logreg/lenet: CPU only, without --fast or --caffe")
    batch = {"logreg": 10, "lenet": 64}[args.net] if args.batch == 128 else args.batch
    iterations = args.iterations or {"logreg": 500, "lenet": 20}[args.net]
    with tempfile.TemporaryDirectory() as folder:
        runs = _small_nets.cases(args.net, folder, batch)
        for fn in runs.values():   # warm-up (allocations, kernel selection, data threads)
            fn(max(1, iterations // 5))
        rounds = {label: [] for label in runs}
        for _ in range(args.rounds):
            for label, fn in runs.items():
                rounds[label].append(timed(fn, iterations, args.device))
        med = {label: _medians(r) for label, r in rounds.items()}
    print(f"net: {args.net}, batch {batch}, threads: {torch.get_num_threads()}, {args.rounds} "
          f"rounds x {iterations} iterations, load average {os.getloadavg()[0]:.2f}")
    peer, peer_cpu = med["hand-written torch"]
    for label, (w, cpu) in med.items():
        print(f"{label:22s}: {1e3 * w:.4f} ms/iter wall, {1e3 * cpu:.4f} ms/iter CPU; "
              f"/hand-written: wall {w / peer:.3f}, CPU {cpu / peer_cpu:.3f}  rounds: "
              + " ".join(f"{1e3 * t:.4f}" for t, _ in rounds[label]))
    return med


if __name__ == "__main__":
    main()
