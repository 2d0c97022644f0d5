"""CPU forward of the generated PyTorch source (``caffe-compat export --format pytorch``)
against ``caffe_compat.Net``'s own torch forward, on the zoo nets of bench_zoo, in one run.

    python benchmarks/bench_pytorch_export.py [--nets ResNet-50 ...] [--batches 1 8]
                                              [--seconds 3]

Seeded random weights (``tests.caffe_compat.public_nets``); ours is ``Net.forward(data=x)``
under ``torch.inference_mode()`` (its inference fast path: BatchNorm / Scale folded into the
convolutions, channels-last layouts), the generated module is ``model(x)`` under the same
mode, as a user would run it (eval mode, no folding; its inputs and convolution weights
channels-last, as it writes them), and again after
``model.to(memory_format=torch.channels_last)`` with a channels-last input (torch's advice for
CPU convolutions). ``Net``'s plain torch path (the fast path off: every layer on its own)
is timed too. Timed in alternating blocks
(:func:`benchmarks.zoo_timing.rounds`); printed per net and batch: milliseconds of each, the
ratio (our plain path / generated: above 1 means the generated module is faster), its
spread (the lowest and highest ratio of the medians of a block pair: one block of each, timed
one after the other) and the difference of the outputs relative to the output's scale.
"""
from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import sys
import tempfile

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.zoo_timing import rounds  # noqa: E402
from caffe_compat.export import export_pytorch  # noqa: E402
from caffe_compat.export.pytorch.check import scaled  # noqa: E402
from tests.caffe_compat.public_nets import NETS, build  # noqa: E402

ZOO = ["ResNet-50", "GoogLeNet", "SqueezeNet 1.1", "MobileNet v2"]


def generated(net, folder, output):
    export_pytorch(net, folder, [output], check=False)       # the net's own output
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(folder))}",
                                                  folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(str(folder))


def layer_by_layer(net, x):
    """``Net.forward`` with the inference fast path off: every layer on its own (the plain
    torch path)."""
    net.fast_inference = False
    try:
        return net.forward(data=x)
    finally:
        net.fast_inference = True


def block_ratios(ours, theirs, block=5):
    """``median(ours block) / median(theirs block)`` for each pair of blocks of ``rounds``."""
    return [statistics.median(ours[i:i + block]) / statistics.median(theirs[i:i + block])
            for i in range(0, min(len(ours), len(theirs)), block)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=ZOO, choices=list(NETS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| net | batch | ours ms | ours, layer by layer ms | generated ms | generated, "
          "channels-last ms | layer by layer / generated | spread over blocks | difference |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets:
            net, _ = build(name)
            output = net.outputs[0]
            model = generated(net, pathlib.Path(tmp) / f"net{args.nets.index(name)}", output)
            model_cl = generated(net, pathlib.Path(tmp) / f"cl{args.nets.index(name)}", output)
            model_cl.to(memory_format=torch.channels_last)
            for batch in args.batches:
                x = torch.rand((batch,) + tuple(net.blob_shape("data"))[1:]) * 2 - 1
                with torch.inference_mode():
                    a = net.forward(data=x)[output]
                    b = model(x)[output]
                    xcl = x.contiguous(memory_format=torch.channels_last)
                    median, times = rounds({"ours": lambda: net.forward(data=x),
                                        "layers": lambda: layer_by_layer(net, x),
                                        "generated": lambda: model(x),
                                        "channels_last": lambda: model_cl(xcl)},
                                       args.seconds)
                ms = {k: v * 1e3 for k, v in median.items()}
                spread = block_ratios(times["layers"], times["generated"])
                print(f"| {name} | {batch} | {ms['ours']:.1f} | {ms['layers']:.1f} | "
                      f"{ms['generated']:.1f} | {ms['channels_last']:.1f} | "
                      f"{ms['layers'] / ms['generated']:.2f} | {min(spread):.2f}-"
                      f"{max(spread):.2f} | {scaled(b, a):.1e} |", flush=True)


if __name__ == "__main__":
    main()
