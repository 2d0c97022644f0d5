"""The parity table of ``caffe-compat verify``: the README's Caffe rows, measured on a user's build.

``ROWS`` holds each row's claim and tolerance exactly as the README's "Parity evidence" table
states them (tests/caffe_compat/test_verify.py keeps the two in step); ``render`` fills in what
the live run measured.
"""
from __future__ import annotations

from dataclasses import dataclass

from .checks import BACKWARD_TOL, FORWARD_TOL, LOSS_TOL, WEIGHT_TOL

# The OpenBLAS kernels whose summation order caffe_compat.blas_order follows, by core name.
EMULATED_CORES = {"skylakex", "cooperlake", "sapphirerapids"}


@dataclass
class Row:
    key: str
    claim: str
    tolerance: str


ROWS = [
    Row("forward", "every blob of the forward pass", "1e-5 of the blob's scale"),
    Row("exact", "Convolution / InnerProduct outputs in Caffe's order (training; "
                 "`--caffe-order` inference)", "0"),
    Row("backward", "every gradient of one backward", "1e-4"),
    Row("loss", "per-iteration loss of training runs", "1e-4 relative"),
    Row("weights", "weights after 10 and 20 iterations", "1e-4"),
    Row("read", "caffemodels we write", "0"),
    Row("bytes", "re-saved Caffe caffemodels", "0"),
]


def _fmt(x):
    return "n/a" if x is None else f"{x:.2g}"


def summarise(cases, trainings, core):
    """{row key: (reference, measured, ok)} and the list of departures (type: what)."""
    done = [c for c in cases if c.error is None]
    departures = []
    for c in cases:
        what = []
        if c.error:
            what.append(c.error)
        else:
            if c.forward > FORWARD_TOL:
                what.append(f"forward error {c.forward:.3g} > {FORWARD_TOL:g}")
            if c.backward is not None and c.backward > BACKWARD_TOL:
                what.append(f"backward error {c.backward:.3g} > {BACKWARD_TOL:g}")
            what += [f"caffemodel: {k} failed" for k, ok in c.roundtrip.items() if not ok]
        if what:
            departures.append((c.type, c.index, "; ".join(what)))
    types = sorted({c.type for c in cases})
    fwd = max((c.forward for c in done), default=None)
    bwd = max((c.backward for c in done if c.backward is not None), default=None)
    same, total = (sum(c.exact[i] for c in done) for i in (0, 1))
    emulated = (core or "").lower() in EMULATED_CORES
    rows = {
        "forward": (f"this build, {len(types)} layer types, {len(cases)} nets",
                    f"<= {_fmt(fwd)}", fwd is not None and fwd <= FORWARD_TOL),
        "backward": ("this build", f"<= {_fmt(bwd)}", bwd is None or bwd <= BACKWARD_TOL),
    }
    if emulated:
        rows["exact"] = (f"this build (OpenBLAS {core})", f"{total - same} of {total} differ",
                         same == total)
    else:
        rows["exact"] = (f"this build (BLAS: {core or 'not OpenBLAS'})",
                         f"{total - same} of {total} differ (not checked: the order followed "
                         "is that of OpenBLAS's AVX-512 kernels)", True)
    losses = [t for t in trainings.values() if t[2] is None]
    for name, t in trainings.items():
        if t[2] is not None:
            departures.append((f"training ({name})", 0, t[2]))
        elif t[0] > LOSS_TOL or t[1] > WEIGHT_TOL:
            departures.append((f"training ({name})", 0,
                               f"loss error {t[0]:.3g}, weight error {t[1]:.3g}"))
    loss_err = max((t[0] for t in losses), default=None)
    w_err = max((t[1] for t in losses), default=None)
    ok_runs = len(losses) == len(trainings) and len(trainings) > 0
    rows["loss"] = (f"this build, {len(trainings)} runs ({', '.join(trainings)})",
                    f"<= {_fmt(loss_err)}", ok_runs and loss_err <= LOSS_TOL)
    rows["weights"] = ("this build's final weights", f"<= {_fmt(w_err)}",
                       ok_runs and w_err <= WEIGHT_TOL)
    with_rt = [c for c in done if c.roundtrip]
    read_ok = sum(1 for c in with_rt if c.roundtrip.get("read by Caffe")
                  and c.roundtrip.get("Caffe's read by us"))
    bytes_ok = sum(1 for c in with_rt if c.roundtrip.get("Caffe's bytes re-saved"))
    rows["read"] = ("read by this build", f"{read_ok} of {len(with_rt)} files exact",
                    read_ok == len(with_rt))
    rows["bytes"] = ("this build's bytes", f"{bytes_ok} of {len(with_rt)} byte-identical",
                     bytes_ok == len(with_rt))
    return rows, departures


def render(rows, departures, header, skipped):
    lines = header + ["", "| claim | reference | measured | tolerance | result |",
                      "|---|---|---|---|---|"]
    for r in ROWS:
        ref, measured, ok = rows[r.key]
        lines.append(f"| {r.claim} | {ref} | {measured} | {r.tolerance} | "
                     f"{'ok' if ok else 'DEPARTS'} |")
    if departures:
        lines += ["", "Where this build departs from caffe_compat:"]
        lines += [f"  {t} (net {i}): {what}" for t, i, what in departures]
    if skipped:
        lines += ["", "Not checked:"] + [f"  {t}: {why}" for t, why in skipped]
    return "\n".join(lines)
