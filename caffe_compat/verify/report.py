"""The parity table of ``caffe-compat verify``: docs/parity.md's Caffe rows (``ROWS``: each
row's claim and tolerance as that table states them; tests/caffe_compat/test_verify.py keeps
the two in step), filled in with what the live run measured (``render``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .checks import BACKWARD_TOL, FORWARD_TOL, LOSS_TOL, WEIGHT_TOL

# The OpenBLAS kernels whose summation order caffe_compat.kernels.blas_order follows, by core name.
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
    Row("data", "Data / ImageData / WindowData batches", "0"),
]
# The data layers: their batches must be Caffe's exactly (the same records, crop offsets,
# mirror draws and float32 arithmetic), so their row's tolerance is 0.
DATA_TYPES = {"Data", "ImageData", "WindowData", "HDF5Data"}


# Layer types that Caffe builds from other layers inside them (LRN WITHIN_CHANNEL: Split,
# Power, Pooling, Eltwise; the recurrent layers: an unrolled net): when one of those departs
# too, the departure of the composite is most likely theirs.
COMPOSED_OF = {
    "LRN": ("Split", "Power", "Pooling", "Eltwise"),
    "RNN": ("InnerProduct", "Eltwise", "TanH", "Slice", "Concat", "Reshape", "Scale", "Split"),
    "LSTM": ("InnerProduct", "Eltwise", "LSTMUnit", "Slice", "Concat", "Reshape", "Scale",
             "Split"),
}


def _fmt(x):
    return "n/a" if x is None else f"{x:.2g}"


def summarise(cases, trainings, core):
    """{row key: (reference, measured, ok)} and the departures: (type, which net (its index and
    the layer's fields) or run, what departs)."""
    done = [c for c in cases if c.error is None]
    departures = []
    for c in cases:
        what = []
        if c.error:
            what.append(c.error)
        else:
            if c.type in DATA_TYPES and c.forward > 0:
                what.append(f"batches differ (scaled error {c.forward:.3g}; tolerance 0)")
            elif c.forward > FORWARD_TOL:
                what.append(f"forward error {c.forward:.3g} > {FORWARD_TOL:g}")
            if c.backward is not None and c.backward > BACKWARD_TOL:
                what.append(f"backward error {c.backward:.3g} > {BACKWARD_TOL:g}")
            what += [f"caffemodel: {k} failed" for k, ok in c.roundtrip.items() if not ok]
        if what:
            where = f"net {c.index}" + (f": {c.fields}" if c.fields else "")
            departures.append((c.type, where, "; ".join(what)))
    departing = {t for t, _, _ in departures}
    for k, (t, where, what) in enumerate(departures):
        parts = [p for p in COMPOSED_OF.get(t, ()) if p in departing]
        if parts:
            departures[k] = (t, where, f"{what} (Caffe computes {t} with {', '.join(parts)} "
                                       "layers inside it, which depart too)")
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
            departures.append((f"training ({name})", "run", t[2]))
        elif t[0] > LOSS_TOL or t[1] > WEIGHT_TOL:
            departures.append((f"training ({name})", "run",
                               f"loss error {t[0]:.3g}, weight error {t[1]:.3g}"))
    loss_err = max((t[0] for t in losses), default=None)
    w_err = max((t[1] for t in losses), default=None)
    ok_runs = len(losses) == len(trainings)
    if trainings:
        rows["loss"] = (f"this build, {len(trainings)} runs ({', '.join(trainings)})",
                        f"<= {_fmt(loss_err)}", ok_runs and loss_err <= LOSS_TOL)
        rows["weights"] = ("this build, after 10 and 20 iterations", f"<= {_fmt(w_err)}",
                           ok_runs and w_err <= WEIGHT_TOL)
    else:
        rows["loss"] = rows["weights"] = ("not run (--no-training)", "n/a", None)
    data = [c for c in cases if c.type in DATA_TYPES]
    data_done = [c for c in data if c.error is None]
    data_err = max((c.forward for c in data_done), default=None)
    if data:
        rows["data"] = (f"this build, {len(data)} nets of {', '.join(sorted({c.type for c in data}))}"
                        " (TRAIN crops, mirrors, shuffles, windows after one seed)",
                        f"{sum(c.forward == 0 for c in data_done)} of {len(data)} identical "
                        f"(worst scaled error {_fmt(data_err)})",
                        len(data_done) == len(data) and data_err == 0)
    else:
        rows["data"] = ("not checked", "n/a", None)
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
        result = "not run" if ok is None else "ok" if ok else "DEPARTS"
        lines.append(f"| {r.claim} | {ref} | {measured} | {r.tolerance} | {result} |")
    if departures:
        lines += ["", "Where this build departs from caffe_compat:"]
        lines += [f"  {t} ({where}): {what}" for t, where, what in departures]
    if skipped:
        lines += ["", "Not checked:"] + [f"  {t}: {why}" for t, why in skipped]
    return "\n".join(lines)
