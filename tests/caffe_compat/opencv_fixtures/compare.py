"""Compare our forward pass with the committed OpenCV 4 outputs of ``make_fixtures.py``.

Tolerances (each test states its reason too):
- dense outputs: ``scaled_error`` (max |ours - OpenCV| / max |OpenCV|) <= 1e-5: both are float32
  with different summation orders (~1e-7 of the scale per layer; 1e-5 leaves a margin).
- detections: the same set of rows (image, label), each paired row's confidence and normalized
  box corners within 1e-4 (float32 decoding with exp; boxes of pixel nets within 1e-4 of the
  image size); rows are paired by image and label, then by nearest (score, box), since rows of
  equal confidence may be ordered differently (OpenCV's std::sort is not stable).
"""
import functools
import pathlib

import numpy as np
import pytest
import torch

from tests.caffe_compat.reference import scaled_error

from .nets import build

DATA = pathlib.Path(__file__).parent / "data"
DENSE_TOL = 1e-5
DET_TOL = 1e-4


def slug(name):
    return name.lower().replace(" ", "_")


@functools.lru_cache(maxsize=None)
def fixture(name):
    path = DATA / f"{slug(name)}.npz"
    if not path.exists():
        pytest.fail(f"missing fixture {path}; write it with "
                    "python -m tests.caffe_compat.opencv_fixtures.make_fixtures")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def run_case(name, case, inputs=None):
    """(our outputs, OpenCV's outputs) for a case; the weights must hash as in the fixture."""
    ref = fixture(name)
    net, digest = build(case)
    assert digest == str(ref["weights_sha256"]), (
        f"{name}: the seeded weights changed (numpy's RandomState stream?); rewrite the fixture")
    if inputs is None and "photo" in ref:
        inputs = photo_inputs(case, ref["photo"])
    elif inputs is None:
        inputs = {k[3:]: v for k, v in ref.items() if k.startswith("in/")}
    with torch.no_grad():
        out = net.forward(blobs=case["outputs"], **inputs)
    ours = {k: out[k].numpy() for k in case["outputs"]}
    theirs = {k: ref[f"out/{k}"] for k in case["outputs"]}
    return ours, theirs


def photo_inputs(case, image):
    """The net inputs of a photo case: blobFromImage's arithmetic (and im_info)."""
    from .ssd_nets import blob
    inputs = {"data": blob(image, case["mean"], case["scale"])}
    if "im_info" in case:
        inputs["im_info"] = np.array([case["im_info"]], np.float32)
    return inputs


def dense_error(ours, theirs):
    return scaled_error(ours, theirs)


def detection_rows(a):
    rows = np.asarray(a, np.float64).reshape(-1, 7)
    return rows[np.any(rows != 0, axis=1)]


def match_detections(ours, theirs, box_scale=1.0):
    """Max difference of paired (confidence, box / box_scale) over the detections; raises an
    AssertionError when the two sets of (image, label) rows differ."""
    a, b = detection_rows(ours), detection_rows(theirs)
    assert np.shape(ours) == np.shape(theirs), f"shape {np.shape(ours)} vs {np.shape(theirs)}"
    assert len(a) == len(b), f"{len(a)} detections vs OpenCV's {len(b)}"
    worst = 0.0
    used = np.zeros(len(b), bool)
    for row in a:
        same = np.flatnonzero((b[:, 0] == row[0]) & (b[:, 1] == row[1]) & ~used)
        assert len(same), f"no OpenCV detection of image {row[0]:g} label {row[1]:g} left"
        diff = np.abs(b[same, 2:] - row[2:])
        diff[:, 1:] /= box_scale
        k = np.argmin(diff.max(1))
        used[same[k]] = True
        worst = max(worst, float(diff[k].max()))
    return worst


def report(title, errors):
    print(f"\n{title}: " + ", ".join(f"{k} {v:.2g}" for k, v in errors.items()))
    return max(errors.values())


def match_rois(ours, theirs, box_scale):
    """Max paired difference of ROI rows ``[batch, x1, y1, x2, y2]`` / box_scale (as sets)."""
    a, b = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert a.shape == b.shape, f"shape {a.shape} vs {b.shape}"
    a, b = a[np.any(a != 0, 1)], b[np.any(b != 0, 1)]
    assert len(a) == len(b), f"{len(a)} ROIs vs OpenCV's {len(b)}"
    worst, used = 0.0, np.zeros(len(b), bool)
    for row in a:
        diff = np.abs(b - row).max(1) / box_scale
        diff[used] = np.inf
        k = int(np.argmin(diff))
        used[k] = True
        worst = max(worst, float(diff[k]))
    return worst


def check_case(name, case, box_scale=1.0):
    """{output: error} for a case: dense scaled error, or paired detection / ROI error."""
    ours, theirs = run_case(name, case)
    errors = {}
    for out, kind in case["kinds"].items():
        if kind == "dense":
            errors[out] = dense_error(ours[out], theirs[out])
        elif kind == "detections":
            errors[out] = match_detections(ours[out], theirs[out], box_scale)
        else:
            errors[out] = match_rois(ours[out], theirs[out], box_scale)
    return errors


def extra_type_errors(title, outputs):
    """Errors of some outputs of the "Extra types" case (one case, several layer types)."""
    from .cases import extra_types_case
    errors = check_case("Extra types", extra_types_case())
    return report(f"{title} vs OpenCV 4", {k: errors[k] for k in outputs})
