"""Caffe's SGD update of every learnable blob in one C call (``_sgd_update.c``).

For each blob, in Caffe's order (``sgd_solver.cpp``): ``diff += local_decay * data`` (L2),
``history = momentum * history``, ``history += local_rate * diff``, ``diff = history``,
``data -= diff`` (the fused form of :class:`~caffe_compat.solvers.sgd.SGDSolver` runs five
``torch._foreach_*`` calls, whose fixed cost is most of a small net's update).

The two ``a + s * b`` lines are one fused multiply-add on processors with FMA and a product
and a sum elsewhere (torch's ``add(alpha=)``, OpenBLAS's ``saxpy``). :func:`mode` runs torch's
calls and both forms of the C loop on the same values once per process and keeps the form
that gives torch's bits; where neither does, or the extension was not built, the solver keeps
torch's calls (tests/caffe_compat/kernels/test_sgd_update.py)."""
from __future__ import annotations

import numpy as np
import torch
from torch.autograd.graph import increment_version

try:
    from . import _sgd_update
except ImportError:  # pragma: no cover - the extension is optional
    _sgd_update = None

_MODE = []            # [None | True (fused) | False (unfused)], once decided


def _torch_reference(weights, diffs, histories, decays, rates, momentum):
    """The update by torch's calls, as the solver's fused form makes them."""
    for w, d, h, decay, rate in zip(weights, diffs, histories, decays, rates):
        if decay:
            d.add_(w, alpha=decay)
        h.mul_(torch.tensor(momentum, dtype=torch.float32))
        h.add_(d, alpha=rate)
        d.copy_(h)
        w.sub_(d)


def _probe():
    """True / False: the C loop's fused / unfused form gives torch's bits here; None: neither
    (or no extension)."""
    if _sgd_update is None:
        return None
    rng = np.random.default_rng(20161109)
    sizes = (1, 3, 8, 15, 17, 64, 1000, 70001)
    # the same magnitude for diff, data and history: a fused and an unfused a + s * b then
    # round apart for about a quarter of the values
    base = [[rng.standard_normal(n).astype(np.float32) for _ in range(3)] for n in sizes]
    decays = [0.0, float(np.float32(0.37))] * (len(sizes) // 2)
    rates = [float(np.float32(r)) for r in rng.uniform(0.1, 1.5, len(sizes))]
    momentum = float(np.float32(0.9))
    ref = [[torch.from_numpy(a.copy()) for a in blob] for blob in base]
    with torch.no_grad():
        _torch_reference([b[0] for b in ref], [b[1] for b in ref], [b[2] for b in ref], decays,
                         rates, momentum)
    want = [[t.numpy() for t in blob] for blob in ref]
    for fused in (True, False):
        got = [[a.copy() for a in blob] for blob in base]
        _sgd_update.sgd_update([b[0] for b in got], [b[1] for b in got], [b[2] for b in got],
                               decays, rates, momentum, fused)
        if all(np.array_equal(g, w) for blob_g, blob_w in zip(got, want)
               for g, w in zip(blob_g, blob_w)):
            return fused
    return None


def mode():
    """How the C update matches torch's calls on this machine (see :func:`_probe`), decided
    once per process."""
    if not _MODE:
        _MODE.append(_probe())
    return _MODE[0]


def available():
    """Whether the C update runs here (built, and matching torch's calls bit for bit)."""
    return mode() is not None


def update(weights, diffs, histories, decays, rates, momentum, tensors):
    """The update of every blob in place: ``weights``, ``diffs``, ``histories`` float32
    C-contiguous arrays (numpy views of the tensors), ``decays`` / ``rates`` the float32 values
    of ``local_decay`` / ``local_rate`` per blob, ``momentum`` a float32 value; ``tensors`` the
    tensors behind the arrays, whose version counters then move on, as torch's in-place calls
    move them (torch's ``increment_version``, documented for kernels that write a tensor's
    memory; caches of weights derived for inference compare them:
    :func:`caffe_compat.layers.base.weights_key`). Call only where :func:`available`."""
    _sgd_update.sgd_update(weights, diffs, histories, decays, rates, momentum, _MODE[0])
    increment_version(tensors)
