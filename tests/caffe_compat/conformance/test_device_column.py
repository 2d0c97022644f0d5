"""The conformance grid's device column: every case of the grid (``grid.CASES``) and every
example of every layer type the torch engine registers (``caffe-compat verify``'s examples and
``grid.EXTRA_EXAMPLES``, as test_every_type builds them), forward and backward, run by the
torch engine in float32 on a device against the torch engine in float64 on the CPU, with the
same weights, inputs and top diffs (all float32 values, so both nets start from the same
numbers).

The ``cpu`` column runs everywhere (CI included): float32 against float64 on one device. The
``cuda`` column (marked ``cuda``) runs the float32 net on the CUDA device, with TF32 off for
the column (``torch.backends``' flags, restored after): Caffe computes in IEEE float32 on a GPU
(cuBLAS's sgemm without tensor-op math; Caffe 1.0's cuDNN versions predate TF32), so the
column checks the engine's float32 arithmetic there, not torch's TF32 default for cuDNN's
convolutions. Each case checks:

- forward: every top within ``FORWARD_TOL`` of the reference's scale;
- backward: the gradient of ``sum(top * diff)`` (a seeded diff per float top) with respect to
  every input Caffe propagates into and every learnable parameter, within ``BACKWARD_TOL``;
- a type without a backward in Caffe (DetectionOutput, Proposal) refuses it on the device as
  on the CPU, with the layer's name.

Inputs Caffe propagates nothing into (labels, indices, sequence flags, boxes) are the
integer-valued ones here, and verify's examples say so per bottom (``Bottom.grad``); the grid
draws its float inputs from normal(0, 1). Types left out: those whose forward reads files or
only exists in training (``test_every_type.OUT_OF_GRID``), covered on a device by
tests/caffe_compat/test_device_feed.py and tests/pycaffe/test_gpu_memory.py."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.errors import NetError
from caffe_compat.rules import registry

from . import test_every_type as every_type
from .grid import CASES, FEEDS

# float32 sums of at most a few hundred products against float64: a few roundings of 6e-8 of
# the partial sums stay below 1e-5 of the output's scale (measured on the CPU: 5e-7 at most)
FORWARD_TOL = 1e-5
# gradients chain two such sums and, through normalisations (LRN, Normalize, MVN, BatchNorm),
# divide by small moments, which scales the float32 rounding up (measured on the CPU: 7.4e-7)
BACKWARD_TOL = 1e-4

def _float32_values(value):
    return np.asarray(value, np.float32).astype(np.float64)


def _grid_case(case):
    """(net text, inputs, weights) of a grid case: its reference's inputs and fillers."""
    type_name, text = CASES[case]
    net = Net(text, phase="test", seed=7)
    rng = np.random.default_rng(7)
    shapes = {name: tuple(net.blob_shape(name)) for name in net.inputs}
    feed = FEEDS[case](rng, shapes) if case in FEEDS else \
        {name: rng.normal(0, 1, shape) for name, shape in shapes.items()}
    grads = {name: not _integer_valued(value) for name, value in feed.items()}
    return text, feed, grads, net.to_proto()


def _integer_valued(value):
    value = np.asarray(value)
    return value.dtype.kind in "iub" or bool(np.all(value == np.round(value)))


def _type_case(type_name, k):
    """(net text, inputs, weights) of an example of ``type_name``, as test_every_type makes
    its reference (seeded weights through ``fill_weights``)."""
    from tests.caffe_compat.opencv_fixtures.nets import fill_weights
    example = every_type._examples(type_name)[k]
    text = every_type._deploy(type_name, example)
    net = Net(text, phase="test", seed=11)
    fill_weights(net, 11)
    rng = np.random.RandomState(11)
    if hasattr(example, "bottoms"):
        values = [b.values(rng) for b in example.bottoms]
        grads = [b.grad for b in example.bottoms]
    else:
        values = example.values(rng)
        grads = [not _integer_valued(v) for v in values]
    feed = {f"b{k}": v for k, v in enumerate(values)}
    return text, feed, {f"b{k}": g for k, g in enumerate(grads)}, net.to_proto()


def _cases():
    for case in sorted(CASES):
        yield f"grid: {case}", ("grid", case)
    for type_name in sorted(registry.types("torch")):
        if type_name in every_type.OUT_OF_GRID:
            continue
        for k, example in enumerate(every_type._examples(type_name)):
            if getattr(example, "files", None) is None and example.phase == "TEST":
                yield f"type: {type_name} {k}", ("type", type_name, k)


CASE_IDS, CASE_KEYS = zip(*_cases())


def _pass(text, feed, grads, weights, dtype, device, diff_seed=3):
    """Tops and gradients (float64 arrays on the host) of one forward and one backward."""
    net = Net(text, phase="test", seed=7, dtype=dtype)
    net.copy_from(weights)
    net = net.to(device)
    inputs = {}
    for name, value in feed.items():
        tensor = torch.as_tensor(_float32_values(value), dtype=dtype, device=device)
        inputs[name] = tensor.requires_grad_() if grads.get(name) else tensor
    tops = list(net.outputs)
    out = net.forward(blobs=tops, **inputs)
    got = {t: out[t].detach().to("cpu", torch.float64).numpy() for t in tops}
    rng = np.random.default_rng(diff_seed)
    objective = None
    for t in tops:
        if out[t].requires_grad and out[t].is_floating_point():
            diff = torch.as_tensor(_float32_values(rng.normal(0, 1, tuple(out[t].shape))),
                                   dtype=dtype, device=device)
            term = (out[t] * diff).sum()
            objective = term if objective is None else objective + term
    names = [n for n, v in inputs.items() if v.requires_grad]
    names += [f"{layer}[{i}]" for layer, blobs in net.params.items()
              for i, p in enumerate(blobs) if p.requires_grad]
    leaves = [v for v in inputs.values() if v.requires_grad]
    leaves += [p for blobs in net.params.values() for p in blobs if p.requires_grad]
    if objective is None or not leaves:
        return got, {}, None
    try:
        found = torch.autograd.grad(objective, leaves, allow_unused=True)
    except NetError as exc:
        return got, {}, str(exc)
    return got, {n: g.detach().to("cpu", torch.float64).numpy()
                 for n, g in zip(names, found) if g is not None}, None


def _scaled(a, b):
    if not b.size:
        return 0.0
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(a - b).max()) / scale


@contextlib.contextmanager
def _ieee_float32(device):
    """TF32 off on a CUDA device while the column runs (the module doc), restored after."""
    if device != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _problems(key, device):
    """What differs between the float32 pass on ``device`` and the float64 one on the CPU
    (an empty list: nothing)."""
    text, feed, grads, weights = _grid_case(key[1]) if key[0] == "grid" else \
        _type_case(*key[1:])
    want, want_grads, want_refusal = _pass(text, feed, grads, weights, torch.float64, "cpu")
    with _ieee_float32(device):
        got, got_grads, refusal = _pass(text, feed, grads, weights, torch.float32, device)
    problems = []
    for top, value in want.items():
        if got[top].shape != value.shape:
            problems.append(f"top {top}: shape {got[top].shape}, not {value.shape}")
        elif _scaled(got[top], value) > FORWARD_TOL:
            problems.append(f"top {top}: {_scaled(got[top], value):.3g} of its scale")
    if refusal != want_refusal:                     # no backward in Caffe: refused alike
        problems.append(f"backward refused: {refusal!r}, on the CPU {want_refusal!r}")
    if sorted(got_grads) != sorted(want_grads):
        problems.append(f"gradients of {sorted(got_grads)}, not {sorted(want_grads)}")
    for name, value in want_grads.items():
        if name in got_grads and _scaled(got_grads[name], value) > BACKWARD_TOL:
            problems.append(f"gradient of {name}: {_scaled(got_grads[name], value):.3g} of "
                            "its scale")
    return problems


@pytest.mark.parametrize("key", CASE_KEYS, ids=CASE_IDS)
def test_float32_equals_float64_on_the_cpu(key):
    assert not _problems(key, "cpu")


@pytest.mark.cuda
def test_float32_on_the_cuda_device_equals_float64_on_the_cpu():
    """The column on the CUDA device: every case, each case's differences listed."""
    failed = {label: problems for label, key in zip(CASE_IDS, CASE_KEYS)
              if (problems := _problems(key, "cuda"))}
    assert not failed, "\n".join(f"{label}: {'; '.join(p)}" for label, p in failed.items())


def test_the_column_covers_every_type_the_torch_engine_runs():
    """Every registered torch type but the file-reading and training-only ones has a case."""
    covered = {CASES[key[1]][0] if key[0] == "grid" else key[1] for key in CASE_KEYS}
    missing = set(registry.types("torch")) - covered - every_type.OUT_OF_GRID
    assert not missing, sorted(missing)
