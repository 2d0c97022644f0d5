"""README.md of a PyTorch export: where the net came from, its inputs and preprocessing, its
outputs, the Caffe types and the check that was run (with its figures)."""
from __future__ import annotations

import os


def _preprocessing(prep):
    if not prep:
        return ("Not given at export: feed what the Caffe net was fed (for an image net usually "
                "BGR channel order, 0-255 values, the training mean subtracted, then `scale`).")
    return "\n".join(f"- {k}: {v}" for k, v in prep.items())


def _check_lines(report):
    if report is None:
        return ["Not run at export (`--no-check`)."]
    lines = ["The generated module, imported in a fresh `python -I` process that cannot import "
             "caffe_compat, against `caffe_compat.Net` on the same seeded random inputs "
             "(uniform in [-1, 1)); figures are `max |a - b| / max |b|` per output "
             "(bound 1e-5) and over the gradients (bound 1e-4):", ""]
    for batch, figures in report["outputs"].items():
        outs = ", ".join(f"{k} {d:.1e}" for k, d in figures.items())
        if batch in report["param_grads"]:
            g_in = report["input_grads"][batch][0]
            g_par = report["param_grads"][batch][0]
            grads = f"input gradients {g_in:.1e}; parameter gradients {g_par:.1e}"
        else:
            grads = "gradients not compared at this batch size"
        lines.append(f"- batch {batch}: outputs {outs}; {grads}")
    for kind, label in (("compiled", "torch.compile"), ("autocast", "CPU autocast bfloat16")):
        if kind in report:
            outs = ", ".join(f"{k} {d:.1e}" for k, d in report[kind].items())
            lines.append(f"- {label} (batch {next(iter(report['outputs']))}): {outs}")
    lines.append("")
    lines.append("Result: " + ("passed." if report["ok"] else
                               "FAILED: " + "; ".join(report["failures"])))
    return lines


def model_card(gen, sources, prep=None, report=None):
    """The README text. ``sources``: {"prototxt": (path, sha256), "caffemodel": ...}."""
    net = gen.net
    lines = [f"# {gen.class_name}: the Caffe net '{net.name}' as PyTorch source", "",
             "`model.py` holds one `nn.Module` and imports torch only; `weights.safetensors` "
             "holds its state dict (safetensors: no pickle, safe to load from anywhere).", "",
             "```python", "import sys; sys.path.insert(0, 'THIS_FOLDER')",
             "from model import load", "net = load()          # eval mode, on the CPU",
             f"out = net({', '.join(gen.input_args.values())})   # "
             f"{{{', '.join(repr(o) for o in gen.outputs)}}}", "```", "", "## Source", ""]
    for kind, (path, digest) in sources.items():
        lines.append(f"- {kind}: `{os.path.basename(path)}`, sha256 `{digest}`")
    if not sources:
        lines.append("- a net built in memory (no file)")
    lines += ["", "## Inputs", ""]
    for blob, arg in gen.input_args.items():
        shape = tuple(net.blob_shape(blob))
        lines.append(f"- `{blob}` (argument `{arg}`): shape {shape} in the deploy file; the "
                     "batch axis is free (the first; a recurrent layer's streams axis)")
    lines += ["", "Preprocessing:", "", _preprocessing(prep), "", "## Outputs", ""]
    for blob in gen.outputs:
        lines.append(f"- `{blob}`: shape {tuple(net.blob_shape(blob))} at the deploy batch")
    lines += ["", "## Layers", "",
              ", ".join(f"{t} x{n}" for t, n in sorted(gen.types.items())), "",
              "## Check", ""] + _check_lines(report)
    return "\n".join(lines) + "\n"
