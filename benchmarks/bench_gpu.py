"""Caffe nets on a GPU against plain PyTorch: every ratio in one command.

Rows (``ours / reference`` of the median milliseconds per call; below 1 is faster):

- forward: ``caffe_compat.Net``'s outputs-only forward (``keep_blobs=False``) against a
  hand-written torch net with the same weights (ResNet-50 of KaimingHe/deep-residual-networks
  and MobileNet v1 of shicai/MobileNet-Caffe, the deploy files in ``--nets``; torchvision is
  not needed), at batch 1 and 64, in float32 and under autocast to bfloat16 and float16; the
  shape repeats, so on a CUDA device ours replays a captured graph; the ``uncaptured`` row is
  float32 with ``net.device_graphs = False`` (every forward launched layer by layer);
- cv2.dnn: after ``caffe_compat.dnn.install()``, ``readNetFromCaffe`` with
  DNN_BACKEND_CUDA / DNN_TARGET_CUDA and DNN_TARGET_CUDA_FP16, host input and output, at batch
  1 and 16, against the hand-written net fed from and read back to the host (float16
  autocast for the FP16 target);
- training: the paper's CNN+D from the original solver and net (``--original``, as
  ``benchmarks/bench_train.py``) through ``caffe_compat.get_solver`` reading HDF5 batches,
  against a hand-written loop of the same net with its batch already in device memory and no
  read of the loss per iteration;
- pycaffe: ``caffe.Net`` forward in GPU mode against CPU mode (a row that fails prints
  ``failed: reason``).

The deploy files carry no weights: every net gets the same seeded random weights (He-scaled
normal convolution and inner-product weights, BatchNorm mean 0 and variance 1), written to a
caffemodel that cv2.dnn and pycaffe read; the output says so. Each timing is a block of calls
with the device synchronised (``torch.cuda.synchronize()``) before and after it, after a
warm-up; ours and the reference alternate block by block; medians of the blocks.

    python benchmarks/bench_gpu.py --device cuda --nets ../shared/public-nets \\
        --original ../shared/original          # about 2-3 minutes on one GPU
    python benchmarks/bench_gpu.py --device cpu --quick     # the same table, a smoke test

With ``--quick``: batches 1 and 2, fewer and shorter blocks, a small CNN+D batch; ``--models``
and ``--size`` choose the nets and the input side (MobileNet takes any size; ResNet-50's
pool5 needs 224).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from caffe_compat import Net  # noqa: E402

SHARED = os.path.join(os.path.dirname(REPO), "shared")
NET_FILES = {"resnet50": ("zoo", "models", "resnet50_deploy.prototxt"),
             "mobilenet": ("zoo", "models", "mobilenet_v1_deploy.prototxt")}
TITLES = {"resnet50": "ResNet-50", "mobilenet": "MobileNet v1"}


# ----------------------------------------------------------------------------- timing
class Timer:
    """Blocks of calls, the device synchronised around each, ours and the reference in
    turn."""

    def __init__(self, device, rounds, reps, warmup):
        self.device = torch.device(device)
        self.rounds, self.reps, self.warmup = rounds, reps, warmup

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def block(self, fn):
        self.sync()
        t0 = time.perf_counter()
        for _ in range(self.reps):
            fn()
        self.sync()
        return (time.perf_counter() - t0) / self.reps * 1000.0

    def pair(self, ours, reference):
        """Median milliseconds per call of ``ours`` and of ``reference``."""
        for _ in range(self.warmup):
            ours()
            reference()
        self.sync()
        a, b = [], []
        for r in range(self.rounds):          # alternate, and which goes first
            first, second = (ours, reference) if r % 2 == 0 else (reference, ours)
            t1, t2 = self.block(first), self.block(second)
            a.append(t1 if r % 2 == 0 else t2)
            b.append(t2 if r % 2 == 0 else t1)
        return statistics.median(a), statistics.median(b)


class Table:
    def __init__(self):
        self.rows = []
        print(f"{'row':58s} {'ours ms':>9s} {'ref ms':>9s} {'ratio':>7s}", flush=True)

    def add(self, name, ours=None, ref=None, note=""):
        self.rows.append((name, ours, ref, note))
        if ours is None:
            print(f"{name:58s} {note}", flush=True)
        else:
            print(f"{name:58s} {ours:9.3f} {ref:9.3f} {ours / ref:7.3f}"
                  + (f"  {note}" if note else ""), flush=True)

    def guarded(self, name, fn):
        """``fn() -> (ours ms, ref ms[, note])``, or a ``failed: reason`` row."""
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001 - a row reports its failure and the rest go on
            self.add(name, note=f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
                     if str(e) else f"failed: {type(e).__name__}")
            return
        if isinstance(out, str):
            self.add(name, note=out)
        else:
            self.add(name, *out)


# -------------------------------------------------------------------- weights and nets
def randomize(net, seed=0):
    """Seeded random weights in ``net`` (the deploy files carry none)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for node, key, _, _ in net._nodes:
            blobs = list(net.layers[key].blobs)
            if not blobs:
                continue
            if node.type == "BatchNorm":          # mean 0, variance 1, scale factor 1
                blobs[0].zero_()
                blobs[1].fill_(1.0)
                blobs[2].fill_(1.0)
                continue
            if node.type == "Scale":
                blobs[0].copy_(1.0 + 0.1 * torch.randn(blobs[0].shape, generator=gen))
                for b in blobs[1:]:
                    b.copy_(0.1 * torch.randn(b.shape, generator=gen))
                continue
            w = blobs[0]
            fan_in = max(1, w[0].numel())
            w.copy_(torch.randn(w.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            for b in blobs[1:]:
                b.copy_(0.01 * torch.randn(b.shape, generator=gen))


def _t(x):
    return x.detach().clone().float()


class ConvBN(nn.Sequential):
    """A convolution and Caffe's BatchNorm + Scale pair (as one BatchNorm2d), from the Caffe
    net's blobs."""

    def __init__(self, params, conv, bn, scale, stride=1, pad=0, groups=1, eps=1e-5):
        w = params[conv][0]
        out_c, in_c, k = w.shape[0], w.shape[1] * groups, w.shape[2]
        c = nn.Conv2d(in_c, out_c, k, stride, pad, groups=groups,
                      bias=len(params[conv]) > 1)
        c.weight.data.copy_(_t(w))
        if c.bias is not None:
            c.bias.data.copy_(_t(params[conv][1]))
        b = nn.BatchNorm2d(out_c, eps=eps)
        mean, var, factor = (_t(x) for x in params[bn])
        f = 0.0 if float(factor.reshape(-1)[0]) == 0 else 1.0 / float(factor.reshape(-1)[0])
        b.running_mean.copy_(mean * f)
        b.running_var.copy_(var * f)
        b.weight.data.copy_(_t(params[scale][0]))
        b.bias.data.copy_(_t(params[scale][1]) if len(params[scale]) > 1 else 0)
        super().__init__(c, b)


class Bottleneck(nn.Module):
    def __init__(self, params, name, stride, project):
        super().__init__()
        p = lambda branch: (f"res{name}_branch{branch}", f"bn{name}_branch{branch}",  # noqa
                            f"scale{name}_branch{branch}")
        self.a = ConvBN(params, *p("2a"), stride=stride)
        self.b = ConvBN(params, *p("2b"), pad=1)
        self.c = ConvBN(params, *p("2c"))
        self.shortcut = ConvBN(params, *p("1"), stride=stride) if project else None

    def forward(self, x):
        y = F.relu(self.a(x))
        y = F.relu(self.b(y))
        y = self.c(y)
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet50(nn.Module):
    """KaimingHe's Caffe ResNet-50 written in torch: stride 2 on the first 1x1 convolution of a
    stage (not on the 3x3 as torchvision's), pool1 in Caffe's ceil mode."""

    def __init__(self, params):
        super().__init__()
        self.stem = ConvBN(params, "conv1", "bn_conv1", "scale_conv1", stride=2, pad=3)
        blocks = []
        for stage, count in ((2, 3), (3, 4), (4, 6), (5, 3)):
            for i in range(count):
                blocks.append(Bottleneck(params, f"{stage}{'abcdef'[i]}",
                                         2 if i == 0 and stage > 2 else 1, i == 0))
        self.blocks = nn.Sequential(*blocks)
        w, b = params["fc1000"]
        self.fc = nn.Linear(w.shape[1], w.shape[0])
        self.fc.weight.data.copy_(_t(w))
        self.fc.bias.data.copy_(_t(b))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2, ceil_mode=True)
        x = F.avg_pool2d(self.blocks(x), 7, 1)
        return F.softmax(self.fc(x.flatten(1)), dim=1)


class MobileNetV1(nn.Module):
    """shicai's Caffe MobileNet v1 written in torch: depthwise and pointwise pairs, each with
    BatchNorm + Scale and ReLU, global average pooling, fc7 as a 1x1 convolution."""

    PAIRS = [("conv2_1", 1), ("conv2_2", 2), ("conv3_1", 1), ("conv3_2", 2), ("conv4_1", 1),
             ("conv4_2", 2), ("conv5_1", 1), ("conv5_2", 1), ("conv5_3", 1), ("conv5_4", 1),
             ("conv5_5", 1), ("conv5_6", 2), ("conv6", 1)]

    def __init__(self, params):
        super().__init__()
        layers = [ConvBN(params, "conv1", "conv1/bn", "conv1/scale", stride=2, pad=1),
                  nn.ReLU()]
        for name, stride in self.PAIRS:
            channels = params[f"{name}/dw"][0].shape[0]
            layers += [ConvBN(params, f"{name}/dw", f"{name}/dw/bn", f"{name}/dw/scale",
                              stride=stride, pad=1, groups=channels), nn.ReLU(),
                       ConvBN(params, f"{name}/sep", f"{name}/sep/bn", f"{name}/sep/scale"),
                       nn.ReLU()]
        self.features = nn.Sequential(*layers)
        w, b = params["fc7"]
        self.fc7 = nn.Conv2d(w.shape[1], w.shape[0], 1)
        self.fc7.weight.data.copy_(_t(w))
        self.fc7.bias.data.copy_(_t(b))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return F.softmax(self.fc7(x), dim=1)


HAND = {"resnet50": ResNet50, "mobilenet": MobileNetV1}


def build(model, nets_dir, folder, device):
    """(caffe_compat Net, hand-written module, deploy path, caffemodel path) on ``device``."""
    proto = os.path.join(nets_dir, *NET_FILES[model])
    if not os.path.exists(proto):
        raise FileNotFoundError(f"{proto}: not found (pass the public nets folder as --nets)")
    net = Net(proto, phase="test")
    randomize(net)
    weights = os.path.join(folder, f"{model}.caffemodel")
    net.save(weights)
    params = {name: [p.detach() for p in blobs] for name, blobs in net.params.items()}
    hand = HAND[model](params).eval()
    return net.to(device).eval(), hand.to(device), proto, weights


def autocast(device, precision):
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type,
                          dtype=getattr(torch, precision))


# ------------------------------------------------------------------------------ rows
def forward_rows(table, timer, model, net, hand, device, batches, size):
    name = TITLES[model]
    out_name = net.graph.outputs[0]
    for batch in batches:
        x = torch.rand((batch, 3, size, size), generator=torch.Generator().manual_seed(batch))
        x = x.to(device)
        with torch.inference_mode():
            diff = (net.forward(data=x)[out_name].float().reshape(batch, -1)
                    - hand(x).float().reshape(batch, -1)).abs().max().item()
        # outputs-only forwards (keep_blobs=False), as the figures: on a CUDA device
        # the repeated shape replays a captured graph; "uncaptured" is the same net with
        # net.device_graphs = False (every forward launched layer by layer)
        # "cudnn.benchmark": the same with torch.backends.cudnn.benchmark on for both nets
        # (the user's process-wide choice, as TF32 is; at the largest batch only)
        variants = [("float32", True, False), ("float32", False, False),
                    ("bfloat16", True, False), ("float16", True, False)]
        if batch == max(batches):
            variants.append(("float32", True, True))
        for precision, graphs, tuned in variants:
            def run(precision=precision, x=x, graphs=graphs, tuned=tuned):
                def ours():
                    with torch.inference_mode(), autocast(device, precision):
                        net.forward(data=x, blobs=[out_name], keep_blobs=False)

                def ref():
                    with torch.inference_mode(), autocast(device, precision):
                        hand(x)
                note = f"(float32 outputs differ by {diff:.1e})" if precision == "float32" \
                    and graphs else ""
                net.device_graphs = graphs
                was_tuned = torch.backends.cudnn.benchmark
                torch.backends.cudnn.benchmark = tuned
                try:
                    return (*timer.pair(ours, ref), note)
                finally:
                    net.device_graphs = True
                    torch.backends.cudnn.benchmark = was_tuned
            label = precision + ("" if graphs else " uncaptured") \
                + (" cudnn.benchmark" if tuned else "")
            table.guarded(f"forward {name} b{batch} {label}: Net / hand-written", run)


def launch_row(table, model, net, hand, device, size):
    """Kernels one forward launches on the device (torch.profiler), ours uncaptured (layer by
    layer) against the hand-written net's, batch 1, float32: what a captured graph replays in
    one call, and what the folds leave."""
    name = f"launches {TITLES[model]} b1 float32 uncaptured: Net / hand-written"
    if torch.device(device).type != "cuda":
        table.add(name, note="skipped: kernel launches are counted on a CUDA device")
        return
    from torch.profiler import ProfilerActivity, profile
    out_name = net.graph.outputs[0]
    x = torch.rand((1, 3, size, size), generator=torch.Generator().manual_seed(1)).to(device)

    def kernels(fn):
        fn()
        torch.cuda.synchronize(device)
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize(device)
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)

    def run():
        net.device_graphs = False
        try:
            with torch.inference_mode():
                ours = kernels(lambda: net.forward(data=x, blobs=[out_name], keep_blobs=False))
                ref = kernels(lambda: hand(x))
        finally:
            net.device_graphs = True
        return ours, ref, "(kernels per forward, not ms)"
    table.guarded(name, run)


def dnn_rows(table, timer, model, hand, proto, weights, device, batches, size):
    import cv2
    from caffe_compat import dnn as cdnn
    cdnn.install()
    cuda = torch.device(device).type == "cuda"
    targets = [("DNN_TARGET_CUDA", "float32"), ("DNN_TARGET_CUDA_FP16", "float16")] if cuda \
        else [("DNN_TARGET_CPU", "float32")]
    for batch in batches:
        blob = np.random.default_rng(batch).random((batch, 3, size, size), dtype=np.float32)
        for target, precision in targets:
            def run(target=target, precision=precision, blob=blob):
                net = cv2.dnn.readNetFromCaffe(proto, weights)
                if cuda:
                    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
                net.setPreferableTarget(getattr(cv2.dnn, target))

                def ours():
                    net.setInput(blob)
                    return net.forward()

                def ref():
                    with torch.inference_mode(), autocast(device, precision):
                        return hand(torch.from_numpy(blob).to(device)).float().cpu().numpy()
                return timer.pair(ours, ref)
            backend = "DNN_BACKEND_CUDA/" if cuda else ""
            table.guarded(f"cv2.dnn {TITLES[model]} b{batch} {backend}{target}, host I/O: "
                          "dnn / hand-written", run)


def train_row(table, timer, device, batch, iterations, original):
    def run():
        if original:
            os.environ["RLQ_ORIGINAL"] = original
        import bench_train as bt
        if not os.path.exists(bt.SOLVER):
            raise FileNotFoundError(f"{bt.SOLVER}: not found (pass the original folder as "
                                    "--original)")
        with tempfile.TemporaryDirectory() as folder:
            list_path = bt.make_data(folder, max(2 * batch + 2, 130), 96)
            solver = bt.our_solver(folder, list_path, batch, device)
            torch.manual_seed(1)
            model = bt.HandWritten().to(device).train()
            weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
            biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
            opt = torch.optim.SGD([{"params": weights}, {"params": biases, "lr": 0.02}],
                                  lr=0.01, momentum=0.9, weight_decay=0.0005)
            gen = torch.Generator().manual_seed(0)
            x = torch.rand((batch, 1, 96, 96), generator=gen).to(device)
            y = torch.rand((batch, 1), generator=gen).to(device)

            def step():
                opt.zero_grad(set_to_none=True)
                loss = ((model(x) - y) ** 2).sum() / (2 * batch)
                loss.backward()
                opt.step()

            def ours():
                solver.step(iterations)

            def ref():
                for _ in range(iterations):
                    step()
            a, b = timer.pair(ours, ref)
            return a / iterations, b / iterations, \
                f"(ms per iteration; display every {solver.param.display})"
    table.guarded(f"train CNN+D b{batch} (original solver): solver / hand-written, "
                  "batch on device", run)


def pycaffe_row(table, timer, model, proto, weights, batch, size):
    def run():
        if not torch.cuda.is_available():
            return "skipped: no CUDA device for pycaffe's GPU mode"
        import caffe
        x = np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)
        nets = {}
        for mode in ("gpu", "cpu"):
            getattr(caffe, f"set_mode_{mode}")()
            net = caffe.Net(proto, caffe.TEST, weights=weights)
            net.blobs["data"].reshape(*x.shape)
            net.blobs["data"].data[...] = x
            nets[mode] = net
        caffe.set_mode_cpu()
        return timer.pair(lambda: nets["gpu"].forward(), lambda: nets["cpu"].forward())
    table.guarded(f"pycaffe {TITLES[model]} b{batch} forward: GPU mode / CPU mode", run)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--nets", default=os.path.join(SHARED, "public-nets"),
                    help="the public nets folder (zoo/models/*.prototxt)")
    ap.add_argument("--original", default=None,
                    help="the original paper folder (experiments/solver, experiments/network); "
                         "default $RLQ_ORIGINAL or ../shared/original")
    ap.add_argument("--models", default="resnet50,mobilenet")
    ap.add_argument("--size", type=int, default=224, help="input side of the forward nets")
    ap.add_argument("--quick", action="store_true", help="small batches, few short blocks")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--no-pycaffe", action="store_true")
    ap.add_argument("--tf32", action="store_true",
                    help="let cuDNN's convolutions and cuBLAS's products use TF32, ours and "
                         "the peers alike (default: IEEE float32, Caffe's arithmetic)")
    args = ap.parse_args(argv)
    device = args.device
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA device")
    if torch.device(device).type == "cuda":
        # one setting for every net of the run: the comparison is at one precision
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        print("float32 rows: " + ("TF32 allowed (--tf32)" if args.tf32 else
                                  "IEEE float32 (TF32 off)")
              + " for cuDNN's convolutions and cuBLAS's products, ours and the peers alike",
              flush=True)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in HAND:
            ap.error(f"--models: unknown net '{m}' (known: {', '.join(HAND)})")
    if args.quick:
        timer = Timer(device, args.rounds or 2, 1, 1)
        fwd_batches, dnn_batches, train_batch, train_iters = (1, 2), (1, 2), 4, 1
    else:
        timer = Timer(device, args.rounds or 5, 10, 3)
        fwd_batches, dnn_batches, train_batch, train_iters = (1, 64), (1, 16), 128, 20
    print(f"device: {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else "")
          + f", torch {torch.__version__}, input {args.size}x{args.size}, "
          f"{timer.rounds} alternating rounds of {timer.reps} calls after {timer.warmup} "
          "warm-up, medians", flush=True)
    print("weights: seeded random (the deploy files carry none; He-scaled normal, BatchNorm "
          "mean 0 var 1), the same in every net of a row", flush=True)
    table = Table()
    with tempfile.TemporaryDirectory() as folder:
        for model in models:
            try:
                net, hand, proto, weights = build(model, args.nets, folder, device)
            except Exception as e:  # noqa: BLE001 - reported as the model's rows
                table.add(f"{TITLES[model]}", note=f"failed: {type(e).__name__}: {e}")
                continue
            forward_rows(table, timer, model, net, hand, device, fwd_batches, args.size)
            launch_row(table, model, net, hand, device, args.size)
            dnn_rows(table, timer, model, hand, proto, weights, device, dnn_batches,
                     args.size)
            if not args.no_pycaffe and model == models[0]:
                pycaffe_row(table, timer, model, proto, weights, 1, args.size)
            del net, hand
    if not args.no_train:
        train_row(table, timer, device, train_batch, train_iters, args.original)
    return table


if __name__ == "__main__":
    main()
