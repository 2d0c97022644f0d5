"""Speed under a background load: each case idle and with a busy loop started and stopped by
the benchmark, beside its peers, in one run.

    python benchmarks/bench_contention.py [--cases lr lenet ...] [--loads idle pinned ...]
                                          [--seconds 2] [--min-calls 12] [--caffe /path/to/caffe]
                                          [--quick]

Loads (each a child process that spins for at most the length of its case, killed when the
case ends; the benchmark waits :data:`SETTLE_S` after starting it, as a busy neighbour would
have been there before, and runs ours untimed for :data:`SETTLE_OURS_S`, so that its thread
policy has read the machine under the load as a program running there would): ``idle``
(none), ``pinned`` (pinned to the last CPU this process may use, at nice -5: higher priority
than ours, needs root; the load under which torch's fixed thread shares collapse), ``nice0``
(unpinned at nice 0), ``nice10`` (unpinned at nice 10).

Cases: training per iteration (a solver step: forward, backward, update) of logistic
regression (HDF5Data batch 10 of 4 features -> InnerProduct 2 -> SoftmaxWithLoss, Caffe's
hdf5_classification example), LeNet (Caffe's lenet_train_test, an LMDB of 28 x 28 Datums,
batch 64), CIFAR-10 quick (an LMDB of 32 x 32 x 3 Datums, batch 100, no mean file) and the
CNN+D (prototxt/cnnd_train_val.prototxt, HDF5 96 x 96, batch 8 and 128); inference (a
forward under ``torch.inference_mode``, the fast path) of GoogLeNet, SqueezeNet 1.1,
MobileNet v2 (random weights, see benchmarks/bench_zoo.py) and the deployed CNN+D at batch 1
and 8. Runners of a training case: ``ours`` (``caffe_compat`` with its thread policy,
:mod:`caffe_compat.parallel.threads`), ``ours-1t`` (the same solver with torch forced to 1 thread),
``torch`` (a hand-written PyTorch loop, torch's default thread count, data in memory) and,
with ``--caffe``, ``caffe`` (Caffe 1.0's ``caffe time``: forward + backward of the same net
on the same database, its own per-iteration average; no update, so it is a lower bound of a
Caffe step). Of an inference case: ``ours``, ``ours-1t``, ``dnn`` (``caffe_compat.dnn``'s
default backend: the engine its calibration chose, :mod:`caffe_compat.inference.engines`), ``opencv``
(cv2.dnn, OpenCV's default threads) and ``ort`` (onnxruntime on our exported ONNX, its default
threads).

Runners alternate in blocks (a pause, one untimed call where a call is short, then timed
calls for about 0.2 s, or half the slowest runner's call where that is longer, so that a
Caffe process of seconds a call leaves the training runners several calls a round; see
benchmarks/zoo_timing.py) for ``--seconds`` per case and load, and on until each runner has
``--min-calls`` timed calls (12; for at most 4x ``--seconds``; a call is one forward, or a
training runner's block of iterations, or one ``caffe time`` process); the median time per
iteration / forward is printed with the ratios: each runner's time over ours (above 1: we
are faster), ours over ours at 1 thread (the acceptance: at most 1.2 under the pinned load),
and ours under each load over ours idle. A case and load takes ``--seconds`` plus a warm-up
call of each runner, at least three rounds, and the load's settling: on a 2-core machine the
inference cases take 205 s for all four loads at ``--seconds 2``, the training cases about 10
minutes with ``--caffe`` (the CNN+D at batch 128, several seconds an iteration per runner,
is half of it; estimated from runs on a loaded machine); ``--quick`` (logistic regression,
LeNet and GoogLeNet at batch 1, idle and pinned, 2 s each) well under a minute.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
# the steady state of the engine auto chooses, decided at the first (untimed) forward rather
# than after the torch forwards of the runtime trial (caffe_compat.inference.engines.choose)
os.environ.setdefault("CAFFE_COMPAT_ENGINE_DEFER", "0")

import caffe_compat  # noqa: E402  (sets the default wait policy before torch loads)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from caffe_compat import Net, get_solver  # noqa: E402
from caffe_compat.parallel import threads  # noqa: E402
from caffe_compat.io.prototxt import read_net, write_prototxt  # noqa: E402

EXTEND_AT_MOST = 4      # rounds past --seconds for --min-calls: at most this many times it
SETTLE_S = 0.6          # after a load starts: two of the thread policy's windows
PAUSE_S = 0.05          # between blocks: the spinning threads of torch and OpenCV go to sleep
# ours runs untimed this long under each load before the timing: its thread policy reads the
# machine in windows between its own passes (a core comes back after two windows in a row)
# and keeps a measured count for a hold (pass_choice.HOLD_SECONDS) before it tries the other,
# so without it the first seconds under a load (or idle, after one ended) would time the load
# before and the first hold: what a program that has run a few seconds there gets is timed
SETTLE_OURS_S = 2.5
# onnxruntime's pool spins longer: the runner after it measured 1.3x slower after 0.05 s
# (and still 1.27x after 0.3 s: the order of the runners turns each round as well)
# Caffe runs in a process of its own: while its block runs, the thread policy of ours sees a
# process holding the cores, so the runner after it waits two windows (SETTLE_S) and starts
# with the machine as it is, not as it was during the peer's block
PAUSE_AFTER = {"ort": 0.3, "caffe": SETTLE_S}
# BVLC's public definitions, outside the repository: ../shared/public-nets (or $RLQ_SHARED)
BVLC = os.path.join(os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(REPO), "shared")),
                    "public-nets", "bvlc_nets")
DEFAULT_THREADS = torch.get_num_threads()

LOADS = ("idle", "pinned", "nice0", "nice10")
LOAD_BOUND_S = 1800     # a load's child ends by itself after this, should it outlive us
TRAIN_CASES = ("lr", "lenet", "cifar10_quick", "cnnd8", "cnnd128")
INFER_CASES = ("googlenet-1", "googlenet-8", "squeezenet11-1", "squeezenet11-8",
               "mobilenet_v2-1", "mobilenet_v2-8", "cnnd-1", "cnnd-8")
# iterations in one timed call of a training runner (a call of about 20 ms at least: a step
# of the logistic regression takes a fraction of a millisecond)
ITERATIONS_PER_CALL = {"lr": 50}
PER_LAYER_AB = False    # --per-layer-ab: also ours with every layer on the pass's threads
PLACEMENT_AB = False    # --placement-ab: also ours with its passes not placed (parallel.placement)
QUICK = (["lr", "lenet", "googlenet-1"], ["idle", "pinned"], 2.0)


# ---- background loads ----------------------------------------------------------------------

def _die_with_parent():
    """In a child before exec: SIGKILL when the benchmark's process ends, however it ends
    (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere the load's own time bound remains)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def background(load, seconds):
    """A busy child process for ``load`` that ends by itself after ``seconds`` at the latest
    and is killed when the block ends."""
    if load == "idle":
        yield None
        return
    cpus = threads.affinity()
    nice = {"pinned": -5, "nice0": 0, "nice10": 10}[load]
    pin = {cpus[-1]} if load == "pinned" else None

    def setup():
        _die_with_parent()
        if pin is not None:
            os.sched_setaffinity(0, pin)
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    code = f"import time\nend = time.monotonic() + {float(seconds)}\n" \
           "while time.monotonic() < end:\n    pass\n"
    child = subprocess.Popen([sys.executable, "-c", code], preexec_fn=setup)
    try:
        time.sleep(SETTLE_S)
        if child.poll() is not None:
            raise RuntimeError(f"the {load} load could not start (nice {nice} needs root)")
        yield child
    finally:
        child.kill()
        child.wait()


# ---- timing --------------------------------------------------------------------------------

@contextlib.contextmanager
def torch_threads(n):
    """torch at ``n`` threads for a call (the policy's ceiling inside, its own count after)."""
    with threads.limited(n):
        yield


def settle(ours):
    """Runs ``ours`` untimed for :data:`SETTLE_OURS_S` (once at least): its thread policy
    sees the machine as it is now."""
    end = time.perf_counter() + SETTLE_OURS_S
    ours()
    while time.perf_counter() < end:
        ours()


def alternate(runs, seconds, min_blocks=3, min_calls=0, counts=None):
    """{name: median seconds per call} of the callables in ``runs``, in alternating blocks.
    A callable returning a number measured itself (seconds per iteration). Rounds go on past
    ``seconds`` until every runner has ``min_calls`` timed calls, for at most
    :data:`EXTEND_AT_MOST` times ``seconds`` (a median of five passes of a forward at batch 8
    moved by 1.2-1.3x between runs on a shared machine). ``counts`` (a dict), when given,
    receives each runner's number of timed calls."""
    spent = {}
    for k, f in runs.items():         # warm-up
        t = time.perf_counter()
        f()
        spent[k] = time.perf_counter() - t   # the call's whole time (Caffe's: its process's)
    # blocks of about 0.2 s, or half the slowest call's time where that is longer: a runner
    # that is a process of its own (Caffe's, seconds a call) would otherwise leave the others
    # one call a round (three calls of a training iteration in a run)
    target = max(0.2, max(spent.values()) / 2)
    block = {k: max(1, min(20, int(target / max(v, 1e-6)))) for k, v in spent.items()}
    times = {k: [] for k in runs}
    start = time.perf_counter()
    end, last = start + seconds, start + EXTEND_AT_MOST * seconds
    done = 0

    def more():
        now = time.perf_counter()
        if now < end or done < min_blocks:
            return True
        return now < last and min(len(v) for v in times.values()) < min_calls

    while more():
        # the order turns by one each round: a runner that slows the next one (onnxruntime's
        # pool, measured 1.3x on the runner after it even after a pause) slows each alike
        names = list(runs)
        names = names[done % len(names):] + names[:done % len(names)]
        before = names[-1]
        for k in names:
            f = runs[k]
            time.sleep(PAUSE_AFTER.get(before, PAUSE_S))
            before = k
            if block[k] > 1:
                f()                   # untimed: the threads of the runner before are asleep
            for _ in range(block[k]):
                t = time.perf_counter()
                got = f()
                times[k].append(got if isinstance(got, float) else time.perf_counter() - t)
        done += 1
    if counts is not None:
        counts.update({k: len(v) for k, v in times.items()})
    return {k: statistics.median(v) for k, v in times.items()}


# ---- training cases ------------------------------------------------------------------------

def _solver_param(net_path, lr=0.01):
    from caffe_compat.proto import caffe_pb2
    p = caffe_pb2.SolverParameter()
    p.net = net_path
    p.base_lr, p.lr_policy, p.momentum, p.weight_decay = lr, "fixed", 0.9, 0.0005
    p.max_iter, p.display, p.snapshot, p.random_seed = 10 ** 9, 0, 0, 1
    p.snapshot_after_train = False
    p.type = "SGD"
    return p


def _train_only(net_param, source, batch=None):
    """``net_param`` with its TEST-phase data layers dropped and its data sources set."""
    keep = [layer for layer in net_param.layer
            if not any(r.phase == 1 for r in layer.include)]
    del net_param.layer[:]
    net_param.layer.extend(keep)
    for layer in net_param.layer:
        if layer.type in ("Data",):
            layer.data_param.source = source
            layer.transform_param.ClearField("mean_file")
            if batch:
                layer.data_param.batch_size = batch
        if layer.type == "HDF5Data":
            layer.hdf5_data_param.source = source
            if batch:
                layer.hdf5_data_param.batch_size = batch
        layer.ClearField("include")
    for layer in [la for la in net_param.layer if la.type == "Accuracy"]:
        net_param.layer.remove(layer)
    return net_param


def _lmdb(folder, name, shape, rows, classes=10):
    from caffe_compat.data import db as db_io
    from caffe_compat.data.images import raw_datum
    path = os.path.join(folder, name)
    rng = np.random.default_rng(0)
    with db_io.create_db(path, "lmdb") as w:
        for i in range(rows):
            w.put(f"{i:08d}".encode(), raw_datum(rng.integers(0, 256, shape, np.uint8),
                                                 int(i % classes)).SerializeToString())
        w.commit()
    return path


def _hdf5(folder, name, data, label):
    import h5py
    path = os.path.join(folder, name + ".h5")
    with h5py.File(path, "w") as f:
        f["data"], f["label"] = data, label
    listing = os.path.join(folder, name + ".txt")
    with open(listing, "w") as f:
        f.write(path + "\n")
    return listing


LR_NET = """name: "logreg"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "SOURCE" batch_size: 10 } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1"
        inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc1" bottom: "label" top: "loss" }
"""


def _hand_written(model, x, y, loss_fn, lr=0.01, iterations=1):
    """A plain PyTorch training loop of ``iterations`` steps a call, torch's default threads;
    returns seconds per iteration."""
    torch.manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=0.0005)

    def step():
        with torch_threads(DEFAULT_THREADS):
            t = time.perf_counter()
            for _ in range(iterations):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                loss.item()
            return (time.perf_counter() - t) / iterations
    return step


def _steps(solver, iterations, threads_=None):
    """``solver.step(iterations)`` a call (as a training run steps: many iterations a call),
    at ``threads_`` threads or the policy's; returns seconds per iteration."""
    def run():
        with (torch_threads(threads_) if threads_ else contextlib.nullcontext()):
            t = time.perf_counter()
            solver.step(iterations)
            return (time.perf_counter() - t) / iterations
    return run


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.ip1, self.ip2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2, 2)
        x = F.max_pool2d(self.conv2(x), 2, 2)
        return self.ip2(F.relu(self.ip1(x.flatten(1))))


class Cifar10Quick(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 32, 5, padding=2), nn.Conv2d(32, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.ip1, self.ip2 = nn.Linear(64 * 4 * 4, 64), nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True))
        x = F.avg_pool2d(F.relu(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.avg_pool2d(F.relu(self.conv3(x)), 3, 2, ceil_mode=True)
        return self.ip2(self.ip1(x.flatten(1)))


class CnnD(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 64, 5), nn.Conv2d(64, 128, 5)
        self.conv3 = nn.Conv2d(128, 256, 5)
        self.fc4, self.fc5 = nn.Linear(256 * 5 * 5, 300), nn.Linear(300, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.conv3(x)), 4, 4, ceil_mode=True)
        return self.fc5(F.dropout(F.relu(self.fc4(x.flatten(1))), 0.5, True))


def _caffe_runner(caffe, folder, net_param, iterations):
    path = os.path.join(folder, "caffe_" + re.sub(r"\W", "_", net_param.name) + ".prototxt")
    write_prototxt(net_param, path)
    env = dict(os.environ, GLOG_minloglevel="0", GLOG_logtostderr="1",
               OPENBLAS_NUM_THREADS=str(DEFAULT_THREADS))
    env.pop("GOMP_SPINCOUNT", None)
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(caffe))), "lib")
    if os.path.isdir(lib):            # an installed prefix: bin/caffe beside lib/
        env["LD_LIBRARY_PATH"] = lib + os.pathsep + env.get("LD_LIBRARY_PATH", "")

    def run():
        out = subprocess.run([caffe, "time", "-model", path, "-iterations", str(iterations)],
                             env=env, capture_output=True, text=True, cwd=folder)
        found = re.search(r"Average Forward-Backward: ([0-9.]+) ms", out.stdout + out.stderr)
        if out.returncode != 0 or not found:
            raise RuntimeError(f"caffe time failed ({out.returncode}):\n{out.stderr[-2000:]}")
        return float(found.group(1)) / 1000.0
    return run


def train_case(name, folder, caffe):
    """{runner: callable} of one training iteration of case ``name``."""
    rng = np.random.default_rng(0)
    if name == "lr":
        source = _hdf5(folder, "lr", rng.standard_normal((1000, 4)).astype(np.float32),
                       rng.integers(0, 2, 1000).astype(np.float32))
        from caffe_compat.io.prototxt import parse_net
        net_param = parse_net(LR_NET.replace("SOURCE", source))
        model, x = nn.Linear(4, 2), torch.randn(10, 4)
        y, loss_fn, caffe_iters = torch.randint(0, 2, (10,)), F.cross_entropy, 2000
    elif name == "lenet":
        source = _lmdb(folder, "mnist_lmdb", (1, 28, 28), 640)
        net_param = _train_only(read_net(os.path.join(BVLC, "mnist__lenet_train_test.prototxt")),
                                source)
        model, x = LeNet(), torch.rand(64, 1, 28, 28)
        y, loss_fn, caffe_iters = torch.randint(0, 10, (64,)), F.cross_entropy, 20
    elif name == "cifar10_quick":
        source = _lmdb(folder, "cifar_lmdb", (3, 32, 32), 500)
        net_param = _train_only(read_net(os.path.join(
            BVLC, "cifar10__cifar10_quick_train_test.prototxt")), source)
        model, x = Cifar10Quick(), torch.rand(100, 3, 32, 32)
        y, loss_fn, caffe_iters = torch.randint(0, 10, (100,)), F.cross_entropy, 10
    else:
        batch = int(name[len("cnnd"):])
        source = _hdf5(folder, name, rng.random((max(2 * batch, 64), 1, 96, 96), np.float32),
                       rng.random((max(2 * batch, 64), 1), np.float32))
        net_param = _train_only(read_net(os.path.join(REPO, "prototxt",
                                                      "cnnd_train_val.prototxt")), source, batch)
        model, x = CnnD(), torch.rand(batch, 1, 96, 96)
        y = torch.rand(batch, 1)
        # Caffe's block about a second at batch 8 (4 iterations), several at batch 128 (2)
        loss_fn, caffe_iters = (lambda out, t: ((out - t) ** 2).sum() / (2 * len(t))), \
            max(2, 32 // batch)
    net_param.name = name
    net_path = os.path.join(folder, name + "_train.prototxt")
    write_prototxt(net_param, net_path)
    solver = get_solver(_solver_param(net_path), snapshot_prefix=os.path.join(folder, "snap"))
    if name in ("lenet", "cifar10_quick"):
        # an LMDB opens once per process: the second solver reads a copy
        copy = source + "_copy"
        shutil.copytree(source, copy)
        for layer in net_param.layer:
            if layer.type == "Data":
                layer.data_param.source = copy
        net_path = os.path.join(folder, name + "_train_copy.prototxt")
        write_prototxt(net_param, net_path)
        for layer in net_param.layer:
            if layer.type == "Data":
                layer.data_param.source = source
    forced = get_solver(_solver_param(net_path), snapshot_prefix=os.path.join(folder, "snap1"))

    per_call = ITERATIONS_PER_CALL.get(name, 1)
    runs = {"ours": _steps(solver, per_call), "ours-1t": _steps(forced, per_call, 1),
            "torch": _hand_written(model, x, y, loss_fn, iterations=per_call)}
    if caffe:
        runs["caffe"] = _caffe_runner(caffe, folder, net_param, caffe_iters)
    return runs


# ---- inference cases -----------------------------------------------------------------------

def _deploy(name, folder):
    """(prototxt text, caffemodel bytes, input shape per item, output blob) of a deployed net."""
    if name == "cnnd":
        net_param = read_net(os.path.join(REPO, "prototxt", "cnnd_deploy.prototxt"))
        path = os.path.join(folder, "cnnd_deploy.prototxt")
        write_prototxt(net_param, path)
        with open(path) as f:
            text = f.read()
        net = Net(text, phase="test", seed=1)
        model = os.path.join(folder, "cnnd.caffemodel")
        net.save(model)
        with open(model, "rb") as f:
            blob = f.read()
        return text, blob, (1, 96, 96)
    from benchmarks.bench_zoo import build
    text, model, size = build(name)
    return text, model, (3, size, size)


def infer_case(name, folder):
    import cv2
    from caffe_compat.proto import caffe_pb2
    net_name, batch = name.rsplit("-", 1)
    batch = int(batch)
    text, model, item = _deploy(net_name, folder)
    net = Net(text, phase="test")
    net.copy_from(caffe_pb2.NetParameter.FromString(model))
    net.eval()
    out_name = net.outputs[0]
    x = np.random.default_rng(0).uniform(-1, 1, (batch,) + item).astype(np.float32)
    xt = torch.from_numpy(x)
    theirs = cv2.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                      np.frombuffer(model, np.uint8))
    cv2.setNumThreads(DEFAULT_THREADS)

    def ours():
        with torch.inference_mode():
            net.forward(data=xt, keep_blobs=False)

    def ours_1t():
        with torch_threads(1):
            ours()

    def opencv():
        theirs.setInput(x)
        theirs.forward()
    def ours_all_layers():
        saved = threads.PER_LAYER
        threads.PER_LAYER = False
        try:
            ours()
        finally:
            threads.PER_LAYER = saved
    # caffe_compat.dnn's default backend: the engine its calibration picks (caffe_compat.inference.engines)
    from caffe_compat import dnn as compat_dnn
    ours_dnn_net = compat_dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                               np.frombuffer(model, np.uint8))

    def ours_dnn():
        ours_dnn_net.setInput(x)
        ours_dnn_net.forward()
    def ours_unplaced():
        saved = os.environ.get("CAFFE_COMPAT_PLACEMENT", "1")
        os.environ["CAFFE_COMPAT_PLACEMENT"] = "0"      # read at each pass
        try:
            ours()
        finally:
            os.environ["CAFFE_COMPAT_PLACEMENT"] = saved
    runs = {"ours": ours, "ours-1t": ours_1t, "dnn": ours_dnn, "opencv": opencv}
    if PER_LAYER_AB:
        runs["ours-nolayer"] = ours_all_layers
    if PLACEMENT_AB:
        runs["ours-unplaced"] = ours_unplaced
    try:
        import onnxruntime as ort
        from caffe_compat.export import build_onnx
        proto = build_onnx(net, [out_name])
        session = ort.InferenceSession(proto.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        feed_name = session.get_inputs()[0].name
        runs["ort"] = lambda: session.run(None, {feed_name: x})
    except Exception as e:                # noqa: BLE001 (a peer missing is reported, not fatal)
        print(f"  ({name}: no onnxruntime peer: {type(e).__name__}: {e})", flush=True)
    return runs


# ---- main ----------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", default=list(TRAIN_CASES + INFER_CASES),
                    choices=list(TRAIN_CASES + INFER_CASES))
    ap.add_argument("--loads", nargs="+", default=list(LOADS), choices=list(LOADS))
    ap.add_argument("--seconds", type=float, default=3.0, help="timing per case and load")
    ap.add_argument("--min-calls", type=int, default=12,
                    help="timed calls per runner at least (rounds go on past --seconds, for "
                         f"at most {EXTEND_AT_MOST}x it)")
    ap.add_argument("--caffe", default=None, help="Caffe 1.0's `caffe` binary (training peer)")
    ap.add_argument("--quick", action="store_true",
                    help="logistic regression, LeNet, GoogLeNet batch 1; idle and pinned; 2 s")
    ap.add_argument("--per-layer-ab", action="store_true",
                    help="inference: also time ours with the per-layer thread rule off "
                         "(ours-nolayer)")
    ap.add_argument("--placement-ab", action="store_true",
                    help="inference: also time ours with its passes not placed one thread per "
                         "CPU under niced work (ours-unplaced)")
    args = ap.parse_args(argv)
    # a termination request unwinds, so that the load's child process is killed on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    global PER_LAYER_AB, PLACEMENT_AB
    PER_LAYER_AB, PLACEMENT_AB = args.per_layer_ab, args.placement_ab
    if args.quick:
        args.cases, args.loads, args.seconds = QUICK
    if "pinned" in args.loads and (os.geteuid() != 0 or len(threads.affinity()) < 2):
        ap.error("the pinned load needs root (nice -5) and two CPUs")
    if args.caffe and not shutil.which(args.caffe) and not os.access(args.caffe, os.X_OK):
        ap.error(f"--caffe {args.caffe}: not an executable")
    print(f"torch {torch.__version__}, {DEFAULT_THREADS} threads by default, CPUs "
          f"{threads.affinity()}, GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', 'unset')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print("time per training iteration / forward (ms); ratios: a peer's time / ours (> 1: we "
          "are faster); 1t = ours / ours at 1 thread; vs idle = ours / ours idle")
    started = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for case in args.cases:
            runs = train_case(case, folder, args.caffe) if case in TRAIN_CASES \
                else infer_case(case, folder)
            for load in args.loads:
                # the load lasts the whole case (a Caffe block of the CNN+D at batch 128 takes
                # seconds); it ends with this process, or after LOAD_BOUND_S at the latest
                with background(load, LOAD_BOUND_S):
                    settle(runs["ours"])
                    calls = {}
                    med = alternate(runs, args.seconds, min_calls=args.min_calls, counts=calls)
                    usable = threads.usable_threads()
                results[case, load] = med
                idle = results.get((case, "idle"), {}).get("ours")
                peers = " ".join(f"{k} {v * 1e3:.3f}" for k, v in med.items())
                ratios = " ".join(f"{k}/ours {v / med['ours']:.2f}" for k, v in med.items()
                                  if k not in ("ours", "ours-1t"))
                print(f"{case:>15} {load:>7}: {peers} | {ratios} | 1t "
                      f"{med['ours'] / med['ours-1t']:.2f}"
                      + (f" | vs idle {med['ours'] / idle:.2f}" if idle else "")
                      + f" | usable threads at the end {usable} | ours' calls "
                      f"{calls['ours']}", flush=True)
    print(f"{time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the "
          "end (a shared machine: compare ratios, not times)")
    return results


if __name__ == "__main__":
    main()
