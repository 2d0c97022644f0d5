"""The check of a PyTorch export: the generated module against :class:`caffe_compat.Net`.

:func:`check_export` feeds both the same seeded random inputs (uniform in [-1, 1)) at each
batch size (default 1 and 3; the deploy file declares its own), back-propagates the same
random weighting of the outputs through both, and compares, per output blob, ``max |a - b| /
max |b|`` (b ours) against :data:`OUTPUT_TOL`, and the gradients of the inputs and of every
parameter taken from a Caffe blob against :data:`GRADIENT_TOL`. Gradients are compared in
float64: in float32 the two forwards differ by float rounding (1e-7 of the scale), which is
enough to flip a ReLU at a value within 1e-7 of zero or a max-pooling tie, and one flipped
element moves a whole path of the gradient (seen: 3e-2 of the input gradient's scale on
MobileNet v2 with seeded weights in float32, 2e-15 in float64); so the float32 comparison
says nothing about the backward, the float64 one checks it is the same function. The child
runs on the thread count our forwards ran on (caffe_compat lowers it while other processes
hold cores): oneDNN splits a convolution's sums by it, 6e-6 of MobileNet-SSD's confidences
at 2 threads against 1, where the same count gives the same bits. The generated module runs in a
separate ``python -I`` process (``_check_child.py``) whose sys.path holds no caffe_compat, so a
hidden dependency on this package fails the check. It also runs the module under
``torch.compile`` (optional: compiling takes seconds to minutes) and CPU autocast (bfloat16),
reporting their differences.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import torch

from ...errors import CaffeCompatError
from ...onnx_path.trust import rows_in_order
from ..registry import batch_axes

# float32 sums in torch's functional order against our layers' own kernels (fixed-order
# softmax, C pooling, blocked matrix products): a few 1e-7 of the scale per net seen
OUTPUT_TOL = 1e-5
# gradients sum over the batch and the spatial axes in other orders: 1e-4 of the scale
GRADIENT_TOL = 1e-4
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_check_child.py")


class ExportCheckError(CaffeCompatError):
    """The generated module does not compute what caffe_compat.Net computes."""


def scaled(a, b):
    """``max |a - b| / max |b|`` (0 for two empty or all-zero tensors)."""
    a, b = a.detach().double(), b.detach().double()
    if a.shape != b.shape:
        return float("inf")
    if b.numel() == 0:
        return 0.0
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff / scale if scale > 0 else diff


# the bottom holding the sequence markers ``cont`` of Caffe's recurrent layers
_CONT_BOTTOM = {"LSTM": 1, "RNN": 1, "LSTMUnit": 2}


def _consumers(net, blob):
    """(layer node, bottom index) of each layer reading ``blob``, through Split layers."""
    for node in net.graph.layers:
        for i, b in enumerate(node.bottoms):
            if b == blob and node.type == "Split":
                for t in node.tops:
                    yield from _consumers(net, t)
            elif b == blob:
                yield node, i


def _inputs(net, names, batch, gen):
    """Seeded inputs with ``batch`` items on each input's free axis (axis 0, or the one its
    consumer keeps items on: the streams of a recurrent layer); a recurrent layer's ``cont``
    gets 0 or 1 (Caffe's sequence markers), the first step 0."""
    out = {}
    for b in names:
        shape, axis, markers = list(net.blob_shape(b)), 0, False
        for node, i in _consumers(net, b):
            axis = batch_axes(node.type, net.layer(node.name)).get(i, axis)
            markers = markers or _CONT_BOTTOM.get(node.type) == i
        shape[axis] = batch
        if markers:
            value = (torch.rand(shape, generator=gen) < 0.8).float()
            value[0] = 0
        else:
            value = torch.rand(shape, generator=gen) * 2 - 1
        out[b] = value
    return out


def _fresh(net):
    """Zero the state recurrent layers carry from one forward to the next (Caffe's rule),
    so that each forward starts as a freshly loaded net, as the generated module does."""
    for node in net.graph.layers:
        layer = net.layer(node.name)
        if callable(getattr(layer, "reset", None)):
            layer.reset()


def _layer_by_layer(net, outputs, inputs):
    """Our forward with every layer on its own, the reference of the check: the inference
    fast path (:mod:`caffe_compat.inference.fast_inference`) folds BatchNorm and Scale into
    the convolutions, which rounds otherwise than the layers (and than Caffe) do."""
    before = getattr(net, "fast_inference", True)
    net.fast_inference = False
    try:
        return net.forward(blobs=outputs, **inputs)
    finally:
        net.fast_inference = before


def _gradients(net, cases, outputs, gradient_map):
    """The gradients of ``sum(weight * output)`` through ``net`` in float64, per case (the
    net turned to float64 once for all of them: a large net's weights are copied twice, not
    twice per case)."""
    results = []
    net.double()
    try:
        for case in cases:
            result = {"input_grads": {}, "param_grads": {}}
            results.append(result)
            if not case["weights"]:
                continue
            net.zero_grad(set_to_none=True)
            _fresh(net)
            inputs = {k: v.double().requires_grad_(True) for k, v in case["inputs"].items()}
            out = net.forward(blobs=outputs, **inputs)
            loss = sum((out[k] * w.double()).sum() for k, w in case["weights"].items())
            if not (torch.is_tensor(loss) and loss.requires_grad):
                continue
            loss.backward()
            result["input_grads"] = {k: v.grad for k, v in inputs.items()
                                     if v.grad is not None}
            for key, (layer, blob, transform) in gradient_map.items():
                g = net.layer(layer).blobs[blob].grad
                if g is not None:
                    result["param_grads"][key] = g.t() if transform == "transpose" else g
    finally:
        net.float().zero_grad(set_to_none=True)
    return results


def rows_as_set(t):
    """The rows of a detection top (..., 7) in one canonical order (lexicographic over the
    columns: image, label, confidence, box), so that two tops holding the same detections
    compare equal whatever order equal scores took."""
    return torch.from_numpy(rows_in_order(t.detach().cpu().numpy()))


def check_export(net, out_dir, outputs, gradient_map, input_names, batches=(1, 3), seed=0,
                 compile=False, autocast=True, gradients=True, timeout=1800, inputs=None,
                 no_gradient=(), row_sets=(), gradient_batches=None):
    """Run the check of the module doc on the export in ``out_dir``; returns a report dict:
    ``outputs[batch][blob]``, ``input_grads``/``param_grads`` (the worst per batch),
    ``compiled``/``autocast`` (per blob, vs ours), ``ok`` and ``failures`` (text).
    ``inputs``: ``{blob: function(batch) -> tensor}`` for inputs that random values would
    not exercise (ROIs, image sizes); ``no_gradient``: outputs of layers without a backward,
    left out of the gradients; ``row_sets``: detection outputs, compared as sets of rows
    (:func:`rows_as_set`); ``gradient_batches``: the batch sizes whose gradients are
    compared (default: all of ``batches``; every parameter's gradient at each), the float64
    passes being most of a large net's check."""
    gen = torch.Generator().manual_seed(seed)
    cases, ours = [], []
    for batch in batches:
        case = {"inputs": _inputs(net, input_names, batch, gen)}
        for blob, make in (inputs or {}).items():
            case["inputs"][blob] = make(batch)
        _fresh(net)
        with torch.no_grad():
            shapes = _layer_by_layer(net, outputs, case["inputs"])
        weights = {k: torch.rand(shapes[k].shape, generator=gen) * 2 - 1
                   for k in outputs if shapes[k].is_floating_point() and k not in no_gradient}
        # drawn at every batch, so that each batch's inputs are the same whichever are used
        wanted = gradients and (gradient_batches is None or batch in gradient_batches)
        case["weights"] = weights if wanted else {}
        cases.append(case)
        ours.append({"outputs": {k: shapes[k].detach() for k in outputs}})
    threads = torch.get_num_threads()        # the count our forwards ran on
    if any(case["weights"] for case in cases):
        for mine, grads in zip(ours, _gradients(net, cases, outputs, gradient_map)):
            mine.update(grads)
    else:
        for mine in ours:
            mine.update(input_grads={}, param_grads={})
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, result_path = os.path.join(tmp, "cases.pt"), os.path.join(tmp, "result.pt")
        torch.save(cases, cases_path)
        cmd = [sys.executable, "-I", "-B", CHILD, os.path.abspath(out_dir), cases_path, result_path]
        cmd += ["--compile"] * bool(compile) + ["--autocast"] * bool(autocast)
        # our forward's thread count: oneDNN splits a convolution's sums by it
        cmd += ["--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=tmp)
        if proc.returncode != 0:
            raise ExportCheckError(f"the generated module failed in a fresh process "
                                   f"(python -I, no caffe_compat):\n{proc.stderr[-4000:]}")
        theirs = torch.load(result_path, weights_only=True)
    return _compare(batches, ours, theirs, row_sets, gradient_batches)


def _compare(batches, ours, theirs, row_sets=(), gradient_batches=None):
    def diff(k, a, b):
        if k in row_sets and a.shape == b.shape:
            return scaled(rows_as_set(a), rows_as_set(b))
        return scaled(a, b)

    report = {"outputs": {}, "input_grads": {}, "param_grads": {}, "failures": []}
    for batch, mine, got in zip(batches, ours, theirs["cases"]):
        figures = {k: diff(k, got["outputs"].get(k, torch.empty(0) + float("nan")), v)
                   for k, v in mine["outputs"].items()}
        report["outputs"][batch] = figures
        report["failures"] += [f"batch {batch}, output {k}: {d:.2e} of its scale "
                               f"(bound {OUTPUT_TOL:g})" for k, d in figures.items()
                               if not d <= OUTPUT_TOL]
        for kind in ("input_grads", "param_grads"):
            if gradient_batches is not None and batch not in gradient_batches:
                continue
            worst, where = -1.0, None
            for k, v in mine[kind].items():
                d = scaled(got[kind].get(k, torch.full_like(v, float("nan"))), v)
                if not d <= worst:
                    worst, where = d, k
            worst = max(worst, 0.0) if worst == worst else worst
            report[kind][batch] = (worst, where)
            if not worst <= GRADIENT_TOL:
                report["failures"].append(f"batch {batch}, gradient of {where}: {worst:.2e} "
                                          f"of its scale (bound {GRADIENT_TOL:g})")
    first = ours[0]["outputs"]
    for kind in ("compiled", "autocast"):
        if kind in theirs:
            report[kind] = {k: diff(k, theirs[kind][k], v) for k, v in first.items()}
    report["failures"] += [f"torch.compile, output {k}: {d:.2e} of its scale"
                           for k, d in report.get("compiled", {}).items() if not d <= OUTPUT_TOL]
    report["failures"] += [f"autocast (bfloat16), output {k}: not finite"
                           for k, d in report.get("autocast", {}).items() if d != d]
    report["ok"] = not report["failures"]
    return report
