"""Trust: an engine's outputs against the torch forward before the engine runs a net (the
engines of ``caffe_compat.Net(engine="auto")``, and the runtimes of the torch-free path's
trial in a process that imported torch).

At first use for an input shape the engine and our forward run the same input (the caller's
own first one), and every output must agree within :data:`TRUST_TOL` of its scale
(``max |engine - ours| / max |ours|``, :func:`caffe_compat.verify.checks.scaled_error`).
Detection outputs (DetectionOutput rows ``[image, label, score, x1, y1, x2, y2]``, Proposal's
ROIs) are compared as sets when the rows come in another order: two engines may order
detections whose scores tie within float32 rounding either way. An engine that fails, or cannot
load or run the export, is reported by :func:`distrust` (a warning naming the engine, the
output or the layer, and the error) and the torch path runs instead."""
from __future__ import annotations

import warnings

import numpy as np

from ..verify.checks import scaled_error

# the export's promise (29 public nets within 1.2e-5, tests/caffe_compat/public_nets): other
# summation orders of float32 (convolutions, GEMMs, reductions) stay within 1e-4 of the scale
TRUST_TOL = 1e-4
# layer types whose output rows are a set (ordered by score; ties in either order)
SET_OUTPUTS = frozenset({"DetectionOutput", "Proposal"})


class EngineWarning(RuntimeWarning):
    """An engine was not used for a net (it failed the trust check, or could not run it)."""


def rows_in_order(a):
    """The rows of a detection-like output (last axis: the row) sorted lexicographically by
    all columns from the first: the same set of rows gives the same array."""
    a = np.asarray(a)
    rows = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    order = np.lexsort(tuple(rows[:, k] for k in range(rows.shape[1] - 1, -1, -1)))
    return rows[order]


def output_error(engine_out, ours, as_set=False):
    """``max |engine - ours| / max |ours|``; for a set output, the smaller of the in-order and
    the sorted-rows comparison."""
    err = scaled_error(engine_out, ours)
    if as_set and err > TRUST_TOL and np.shape(engine_out) == np.shape(ours) \
            and np.ndim(ours) >= 2:
        err = min(err, scaled_error(rows_in_order(engine_out), rows_in_order(ours)))
    return err


def set_outputs(net, outputs):
    """The outputs of ``net`` made by a layer of :data:`SET_OUTPUTS`."""
    return {t for node in net.graph.layers if node.type in SET_OUTPUTS
            for t in node.tops if t in outputs}


def verdict(outputs, engine_outs, our_outs, sets=()):
    """The trust verdict of an engine's outputs against ours (names and arrays in order;
    ``sets``: the outputs compared as sets of rows): ``{"ok", "error", "worst"}`` (the worst
    output and its error), with ``"why"`` where it is not trusted."""
    worst, err = None, -1.0
    for name, theirs, ours in zip(outputs, engine_outs, our_outs):
        got = output_error(theirs, ours, name in sets)
        if not got <= err:
            worst, err = name, got
    out = {"ok": err <= TRUST_TOL, "error": err, "worst": worst}
    if not out["ok"]:
        out["why"] = (f"output '{worst}' differs from our forward by {err:.2g} of its scale "
                      f"(> {TRUST_TOL:g})")
    return out


def distrust(engine, net_name, what, stacklevel=4):
    """The warning that ``engine`` does not run net ``net_name`` (``what``: the output and
    its error, or the failing layer and the engine's message); the torch path runs."""
    warnings.warn(f"engine '{engine}' not used for net '{net_name}': {what}; running the torch "
                  "forward instead", EngineWarning, stacklevel=stacklevel)
