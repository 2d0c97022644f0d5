"""``caffe-compat precision``: what reduced precision (int8, or bf16 with ``--precision
bfloat16``; on a CUDA device, ``--device cuda``, bf16 or f16 under autocast) costs a net,
measured: its agreement with float32 on an evaluation set and the speed of each.

SRC (``--calibration``, ``--evaluation``, which defaults to the calibration source): a folder
of images (resized to the input and normalised as ``cv2.dnn.blobFromImage`` does with
``--mean``, ``--scale``, ``--swap-rb``) or an HDF5 list file
(:mod:`caffe_compat.data.calibration`). float32 is ``caffe_compat.dnn``'s forward; int8 its
``quantize`` (:mod:`caffe_compat.onnx_path.quantize`) on the first ``--calibration-limit``
items; bfloat16 its ``DNN_TARGET_CPU_FP16`` (OpenVINO's bf16 where the processor has it, else
float32 and the report says so; no calibration). The report's keys name the precision
compared (``accuracy_int8``, ``detections_bfloat16``, ...).

What is reported, by what the net outputs (:func:`kind`):

* a detector (a DetectionOutput layer, SSD's ``1 x 1 x K x 7`` rows of image, class,
  confidence, box): the float32 detections above ``--confidence`` that int8 finds too, as the
  same class with IoU >= 0.9 (:func:`match_detections`, greedy by confidence), and the int8
  detections float32 does not have;
* a classifier (every output ``N x C``, C >= 2, ``x 1 x 1`` allowed): top-1 agreement and
  top-5 agreement (float32's first class among int8's five first), and the accuracy of each
  where the source has labels (an HDF5 ``label`` dataset);
* anything else (regression): the largest |int8 - float32| of each output, absolute and over
  the float32 output's largest magnitude.

Speed: frames/s at each ``--batch`` size, timed in alternating blocks (about 0.3 s each, after
one untimed call) for ``--seconds`` per precision: the median block, and the ratio to float32.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from ..cli.registry import caffe_flag, register_command
from ..errors import CaffeCompatError

BLOCK_S = 0.3
IOU_MIN = 0.9


# ------------------------------------------------------------------------------ agreement
def kind(layer_types, output_shapes):
    """``"detector"`` (a DetectionOutput layer), ``"classifier"`` (every output N x C with C >=
    2, spatial dims 1) or ``"regression"``."""
    if "DetectionOutput" in layer_types:
        return "detector"
    shapes = [tuple(s) for s in output_shapes]
    if shapes and all(len(s) >= 2 and s[1] >= 2 and all(d == 1 for d in s[2:]) for s in shapes):
        return "classifier"
    return "regression"


def detections(out, confidence=0.5):
    """``{image index: rows [class, confidence, x1, y1, x2, y2]}`` of an SSD output (``1 x 1
    x K x 7``) above ``confidence``."""
    rows = np.asarray(out, np.float64).reshape(-1, 7)
    rows = rows[rows[:, 2] > confidence]
    got = {}
    for r in rows:
        got.setdefault(int(r[0]), []).append(r[1:])
    return {k: np.array(v) for k, v in got.items()}


def iou(a, b):
    """Intersection over union of boxes ``a`` and ``b`` (x1, y1, x2, y2)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_detections(ref, got, iou_min=IOU_MIN):
    """(matched, len(ref), len(got)): detections ``ref`` (rows of class, confidence, box) that
    one of ``got`` of the same class overlaps with IoU >= ``iou_min``; each of ``got`` matches
    one at most, taken by ``ref``'s confidence order, the best overlap first."""
    ref = np.asarray(ref).reshape(-1, 6)
    got = np.asarray(got).reshape(-1, 6)
    used = np.zeros(len(got), bool)
    matched = 0
    for r in ref[np.argsort(-ref[:, 1], kind="stable")]:
        best, at = iou_min, -1
        for j, g in enumerate(got):
            if not used[j] and int(g[0]) == int(r[0]):
                v = iou(r[2:], g[2:])
                if v >= best:
                    best, at = v, j
        if at >= 0:
            used[at] = True
            matched += 1
    return matched, len(ref), len(got)


def agreement(what, f32, int8, labels=None, confidence=0.5, label="int8"):
    """The figures of the module doc for outputs ``f32`` and ``int8`` (of the reduced
    precision ``label``; lists of {name: array} per image for a detector, else {name: N x ...
    arrays})."""
    if what == "detector":
        matched = ref = got = 0
        for a, b in zip(f32, int8):
            for name in a:
                da, db = detections(a[name], confidence), detections(b[name], confidence)
                for k in set(da) | set(db):
                    m, r, g = match_detections(da.get(k, np.zeros((0, 6))),
                                               db.get(k, np.zeros((0, 6))))
                    matched, ref, got = matched + m, ref + r, got + g
        return {"detections_float32": ref, f"detections_{label}": got, "matched": matched,
                "matched_share": matched / ref if ref else float("nan"),
                f"{label}_only": got - matched, "iou_min": IOU_MIN, "confidence": confidence}
    out = {}
    for name in f32:
        a = np.asarray(f32[name], np.float64)
        b = np.asarray(int8[name], np.float64)
        dev = float(np.abs(a - b).max())
        row = {"max_deviation": dev,
               "max_deviation_over_scale": dev / max(float(np.abs(a).max()), 1e-30)}
        if what == "classifier":
            a2, b2 = a.reshape(len(a), -1), b.reshape(len(b), -1)
            top_a = a2.argmax(1)
            top5_b = np.argsort(-b2, axis=1)[:, :5]
            row["top1_agreement"] = float((top_a == b2.argmax(1)).mean())
            row["top5_agreement"] = float((top5_b == top_a[:, None]).any(1).mean())
            if labels is not None:
                lab = np.asarray(labels).astype(np.int64)
                row["accuracy_float32"] = float((top_a == lab).mean())
                row[f"accuracy_{label}"] = float((b2.argmax(1) == lab).mean())
        out[name] = row
    return out


# ------------------------------------------------------------------------------ speed
def speed(runners, feed, batch, seconds, progress=None):
    """{precision: frames/s} of each runner at ``batch`` (items of ``feed`` repeated to fill
    it), in alternating blocks (module doc): the median block."""
    blob = {}
    for name, x in feed.items():
        reps = -(-batch // len(x))
        blob[name] = np.ascontiguousarray(np.concatenate([x] * reps)[:batch])
    rates = {p: [] for p in runners}
    spent = {p: 0.0 for p in runners}
    for r in runners.values():
        r.forward(**blob)                        # untimed: first-call costs
    while min(spent.values()) < seconds:
        for p, r in runners.items():
            calls, start = 0, time.perf_counter()
            while True:
                r.forward(**blob)
                calls += 1
                took = time.perf_counter() - start
                if took >= BLOCK_S:
                    break
            rates[p].append(calls * batch / took)
            spent[p] += took
        if progress is not None:
            progress.update(0)
    return {p: float(np.median(v)) for p, v in rates.items()}


# ------------------------------------------------------------------------------ command
def add_arguments(p):
    caffe_flag(p, "model", required=True, help="the deploy net definition (prototxt)")
    caffe_flag(p, "weights", required=True, help="the caffemodel")
    caffe_flag(p, "calibration", default=None, metavar="SRC",
               help="a folder of images or an HDF5 list file to calibrate int8 on (required "
                    "for int8)")
    caffe_flag(p, "evaluation", default=None, metavar="SRC",
               help="the set to compare on (default: the calibration source)")
    caffe_flag(p, "mean", default=None,
               help="images: mean per channel subtracted, e.g. 104,117,123 (none)")
    caffe_flag(p, "scale", type=float, default=1.0, help="images: scale after the mean")
    caffe_flag(p, "swap_rb", action="store_true", help="images: feed RGB instead of BGR")
    caffe_flag(p, "limit", type=int, default=256, help="evaluation items read (256)")
    caffe_flag(p, "calibration_limit", type=int, default=64, help="calibration items (64)")
    caffe_flag(p, "batch", type=int, nargs="+", default=[1, 8], help="batch sizes timed (1 8)")
    caffe_flag(p, "seconds", type=float, default=3.0, help="timing per precision and batch")
    caffe_flag(p, "confidence", type=float, default=0.5, help="detector: confidence kept")
    caffe_flag(p, "per_tensor", action="store_true", help="int8 weights per tensor")
    caffe_flag(p, "json", default=None, metavar="FILE", help="also write the report as JSON")
    caffe_flag(p, "precision", choices=("int8", "bfloat16", "float16"), default="int8",
               help="the reduced precision compared with float32 (int8; float16 on a CUDA "
                    "device)")
    caffe_flag(p, "device", choices=("cpu", "cuda"), default="cpu",
               help="where both run: cpu (int8, bfloat16) or cuda (bfloat16, float16 under "
                    "autocast, against float32 on the device)")


def _outputs(runner, data, what):
    """Outputs of ``runner`` over ``data`` (InputSet): a list per image for a detector
    (its image index is the row's first value, so one image per forward), else arrays."""
    if what == "detector":
        return [runner.forward(**data.batch(k, k + 1)) for k in range(len(data))]
    parts = [runner.forward(**data.batch(k, k + 16)) for k in range(0, len(data), 16)]
    return {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}


def run(args):
    from tqdm import tqdm

    from ..data.calibration import read_inputs
    from ..inference.precision_runner import reduced_precision
    from .. import dnn
    bar = tqdm(total=5, file=sys.stderr, leave=False, bar_format="precision: {desc} "
               "[{n_fmt}/{total_fmt}, {elapsed}]")
    try:
        bar.set_description_str("reading the net and the data")
        net = dnn.readNetFromCaffe(args.model, args.weights)
        inputs = {n: net._input_shapes.get(n) for n in net._inputs}
        if any(s is None for s in inputs.values()):
            raise CaffeCompatError(f"{args.model}: every input needs a declared shape")
        opts = dict(mean=args.mean, scale=args.scale, swap_rb=args.swap_rb)
        if args.precision == "int8" and args.calibration is None:
            raise CaffeCompatError("int8 needs --calibration SRC (a folder of images or an "
                                   "HDF5 list file)")
        if args.calibration is None and args.evaluation is None:
            raise CaffeCompatError("give --evaluation SRC (or --calibration SRC): the set "
                                   "float32 and bfloat16 are compared on")
        calib = read_inputs(args.calibration, inputs, args.calibration_limit, **opts) \
            if args.precision == "int8" else None
        evaluation = read_inputs(args.evaluation or args.calibration, inputs, args.limit,
                                 **opts)
        bar.update(1)
        label = args.precision
        bar.set_description_str("quantizing (calibration forward, model writing)"
                                if label == "int8" else "compiling the bf16 net")
        start = time.perf_counter()
        f32 = reduced_precision(net, "float32", device=args.device)
        if label == "int8":
            low = reduced_precision(net, "int8", calib.feeds, per_channel=not args.per_tensor,
                                    device=args.device)
        else:
            low = reduced_precision(dnn.readNetFromCaffe(args.model, args.weights), label,
                                    device=args.device)
        quantize_s = time.perf_counter() - start
        bar.update(1)
        bar.set_description_str(f"running both on {len(evaluation)} items")
        types = {layer["type"] for layer in net._layers}
        first = f32.forward(**evaluation.batch(0, 1))
        what = kind(types, [v.shape for v in first.values()])
        a, b = _outputs(f32, evaluation, what), _outputs(low, evaluation, what)
        report = {"model": args.model, "weights": args.weights, "kind": what,
                  "precision": label, "ran": low.precision, "device": args.device,
                  "calibration": {"source": None if calib is None else calib.source,
                                  "items": 0 if calib is None else len(calib)},
                  "evaluation": {"source": evaluation.source, "items": len(evaluation)},
                  f"{label}_engine": low.engine, "quantize_seconds": quantize_s,
                  "agreement": agreement(what, a, b, evaluation.labels, args.confidence,
                                         label)}
        bar.update(1)
        report["speed"] = {}
        for batch in args.batch:
            bar.set_description_str(f"timing float32 and {label} at batch {batch}")
            report["speed"][batch] = speed({"float32": f32, label: low},
                                           evaluation.batch(0, batch), batch, args.seconds)
        bar.update(2)
    finally:
        bar.close()
    print(format_report(report))
    if args.json:
        from ..io.atomic import write_text_atomic
        write_text_atomic(args.json, json.dumps(report, indent=1, default=float) + "\n")
        print(f"wrote {args.json}")
    return 0


def format_report(r):
    """The printed report."""
    low = r.get("precision", "int8")
    made = (f"calibrated on {r['calibration']['items']} items of {r['calibration']['source']} "
            f"({r['quantize_seconds']:.1f} s)" if low == "int8" else
            f"compiled in {r['quantize_seconds']:.1f} s")
    lines = [f"precision: float32 (caffe_compat.dnn) vs {low} ({r[f'{low}_engine']}); "
             f"a {r['kind']} net; {made}, compared on {r['evaluation']['items']} of "
             f"{r['evaluation']['source']}"]
    if r.get("ran", low) != low:
        where = "without a CUDA device" if r.get("device") == "cuda" else "on this processor"
        lines.append(f"note: {low} is not available {where}; what ran is {r['ran']} (the "
                     "figures compare float32 with itself)")
    ag = r["agreement"]
    if r["kind"] == "detector":
        lines.append(f"detections (confidence > {ag['confidence']:g}): float32 "
                     f"{ag['detections_float32']}, {low} {ag[f'detections_{low}']}; matched "
                     f"(same class, IoU >= {ag['iou_min']:g}) {ag['matched']} = "
                     f"{100 * ag['matched_share']:.1f} %; {low} only {ag[f'{low}_only']}")
    else:
        for name, row in ag.items():
            text = (f"{name}: max |{low} - float32| {row['max_deviation']:.4g} "
                    f"({row['max_deviation_over_scale']:.3g} of its scale)")
            if "top1_agreement" in row:
                text += (f"; top-1 agreement {100 * row['top1_agreement']:.1f} %, top-5 "
                         f"{100 * row['top5_agreement']:.1f} %")
            if "accuracy_float32" in row:
                text += (f"; accuracy float32 {100 * row['accuracy_float32']:.2f} %, {low} "
                         f"{100 * row[f'accuracy_{low}']:.2f} %")
            lines.append(text)
    for batch, s in r["speed"].items():
        lines.append(f"batch {batch}: float32 {s['float32']:.1f} frames/s, {low} "
                     f"{s[low]:.1f} frames/s ({s[low] / s['float32']:.2f}x)")
    return "\n".join(lines)


HELP = "int8 (or bf16) against float32 on a data set: agreement and speed, measured"
register_command("precision", add_arguments, run, HELP)
