"""Export every public net of ``tests.caffe_compat.public_nets.NETS`` and the paper's models as
PyTorch source and print the check's figures as a Markdown table (docs/export.md, "Nets
checked (PyTorch source)"). Each net is built with ``force_backward: true`` so that the input
gradient is compared too.

    python -m tests.caffe_compat.export.pytorch.report [--only NAME ...] [--compile]
"""
import argparse
import pathlib
import tempfile

from tqdm import tqdm

from caffe_compat import Net
from caffe_compat.export import export_pytorch
from tests.caffe_compat.opencv_fixtures.nets import fill_weights
from tests.caffe_compat.public_nets import NETS, seed_of

ROOT = pathlib.Path(__file__).resolve().parents[4]
PAPER = {"CNN+D": "cnnd", "SR-FCN": "srfcn", "CNN-LSTM": "cnn_lstm"}


def build(name):
    """(net, outputs) with seeded weights, built with force_backward."""
    if name in PAPER:
        text = (ROOT / "prototxt" / f"{PAPER[name]}_deploy.prototxt").read_text()
        outputs = None
    else:
        text, outputs = NETS[name]["build"](), NETS[name]["outputs"]
    net = Net("force_backward: true\n" + text, phase="test")
    fill_weights(net, seed_of(name))
    return net, outputs


# the nets whose float64 gradient passes are most of a minute or more on 2 cores: their
# gradients are compared at batch 1 (every parameter's; the outputs at batch 1 and 3)
LARGE = ("VGG16", "VGG19", "FCN-8s", "ResNet-101", "ResNet-152", "Inception-v3",
         "Inception-BN 21k", "DenseNet-121", "open_nsfw")


def check(name, folder, compile=False):
    net, outputs = build(name)
    return export_pytorch(net, folder, outputs, compile=compile,
                          gradient_batches=(1,) if name in LARGE else None)


def row(name, r):
    outs = [max(r["outputs"][b].values()) for b in (1, 3)]
    grads = max(g[0] for g in r["param_grads"].values())
    inputs = max(g[0] for g in r["input_grads"].values())
    cells = [name, f"{outs[0]:.1e}", f"{outs[1]:.1e}", f"{grads:.1e}", f"{inputs:.1e}"]
    if "compiled" in r:
        cells.append(f"{max(r['compiled'].values()):.1e}")
    return "| " + " | ".join(cells) + " |"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help=f"some of: {', '.join(list(NETS) + list(PAPER))}")
    p.add_argument("--compile", action="store_true", help="add the torch.compile column")
    args = p.parse_args(argv)
    head = ["net", "outputs, batch 1", "outputs, batch 3", "parameter gradients",
            "input gradients"] + (["torch.compile"] if args.compile else [])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in tqdm(args.only or list(NETS) + list(PAPER), desc="nets"):
        with tempfile.TemporaryDirectory() as tmp:
            print(row(name, check(name, pathlib.Path(tmp) / "out", args.compile)), flush=True)


if __name__ == "__main__":
    main()
