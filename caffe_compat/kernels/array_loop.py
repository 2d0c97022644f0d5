"""Many training iterations of an array-engine net in one C call, without torch.

The loop of ``_tiny_solve.c`` runs programs of its operations (written by
:mod:`caffe_compat.array_solver.loop`, named by :mod:`.loop_ops`): the array engine's layers
in Caffe's arithmetic, the products through ``_exact_gemm`` and the update through
``_sgd_update`` (their capsules, the C functions their Python entries call). It uses no
routine of torch, so nothing is compared with torch: the array layers call the same C code
where the loop computes a value differently from numpy (:func:`softmax_loss_rows`, and
``_exact_gemm.gemm`` for the small InnerProduct products), and tests/caffe_compat/array_solver
compares both passes bit for bit."""
from __future__ import annotations

import numpy as np

try:
    from . import _exact_gemm, _sgd_update, _tiny_solve  # noqa: F401  (their capsules)
except ImportError:  # pragma: no cover - the extensions are optional
    _tiny_solve = None

_BOUND = []          # [True | False] once decided


def available():
    """Whether the compiled loop can run here (the extensions built and their capsules
    bound)."""
    if not _BOUND:
        ok = _tiny_solve is not None
        if ok:
            try:
                _tiny_solve.bind()
            except (AttributeError, ImportError):
                ok = False
        _BOUND.append(ok)
    return _BOUND[0]


def run(ops, ptrs, consts, iterations, losses, rates, cursors, limits):
    """Run the program for up to ``iterations`` iterations (see ``_tiny_solve.c``); returns
    how many ran."""
    return _tiny_solve.run(ops, ptrs, consts, iterations, losses, rates, cursors, limits)


def smooth(losses, kept, smoothed, offset, average):
    """Caffe's smoothed loss after ``losses`` (float32 array) given the ``kept`` losses (a
    list, updated in place), the current ``smoothed`` value and the first loss's ``iter -
    start_iter``: the new smoothed value (np.float32), as DisplayMixin._update_smoothed_loss
    computes it loss after loss."""
    ring = np.zeros(average, dtype=np.float32)
    ring[:len(kept)] = kept
    value, size = _tiny_solve.smooth(losses, ring, len(kept), float(smoothed), offset, average)
    kept[:] = [np.float32(v) for v in ring[:size]]
    return np.float32(value)


def softmax_loss_rows(x, labels, prob, norm):
    """SoftmaxWithLoss of (M, C) float32 scores ``x`` for ``labels`` (M class indices in [0,
    C)): ``prob`` (M, C) written, the float32 loss returned, as the compiled loop computes it
    (Caffe's SoftmaxLayer with ``expf``, then ``-sum logf(max(p, FLT_MIN)) / norm`` row after
    row); None where the extension is missing."""
    if not available():
        return None
    m, c = x.shape
    packed = np.empty(m * c + m, np.float32)
    packed[:m * c] = x.reshape(-1)
    packed[m * c:] = labels
    out = np.empty(m * c + 1, np.float32)
    _tiny_solve.softmax_loss(packed, out, m, c, float(norm))
    prob.reshape(-1)[...] = out[:m * c]
    return np.float32(out[m * c])
