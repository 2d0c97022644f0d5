"""Box decoding and non-maximum suppression shared by DetectionOutput and Proposal, as OpenCV 4's
dnn module computes them (``detection_output_layer.cpp`` and ``nms.inl.hpp``), in float32.

Not a layer module (torch-free: the torch-free inference path runs it too).

- Decoding: CORNER adds the (variance-scaled) offsets to the prior's corners; CENTER_SIZE moves
  the prior's centre by ``offset * prior size`` and scales its size by ``exp(offset)``
  (prior sizes get +1 for boxes in pixels, ``normalized_bbox: false``); CORNER_SIZE (weiliu89's
  SSD, which OpenCV's proto lacks) adds ``offset * prior size`` to the corners. ``clip`` clamps
  the decoded corners to ``[0, 1]`` (normalized) or to the image (``[0, width - 1]``).
- Sizes: 0 for an inverted box, ``w * h`` (normalized) or ``(w + 1) * (h + 1)`` (pixels).
- NMS (OpenCV's NMSFast_): scores strictly above the threshold, ordered by score descending
  with a stable sort (equal scores keep prior order), cut to ``top_k`` when ``top_k > 0``;
  a box is kept when its IoU with every kept box is at most the threshold; the scan stops once
  ``limit`` boxes are kept. OpenCV calls it with ``eta = 1``, so SSD's adaptive threshold is off.
"""
import numpy as np

from ..proto.schema import ENUMS

F32 = np.float32
# PriorBoxParameter.CodeType's values (CORNER 1, CENTER_SIZE 2, CORNER_SIZE 3)
CodeType = type("CodeType", (), dict(ENUMS["PriorBoxParameter.CodeType"]))


def box_size(xmin, ymin, xmax, ymax, normalized):
    """OpenCV's BBoxSize on arrays: 0 for inverted boxes."""
    w = xmax - xmin
    h = ymax - ymin
    area = np.asarray(w * h if normalized else (w + F32(1)) * (h + F32(1))).astype(F32,
                                                                               copy=False)
    inverted = (xmax < xmin) | (ymax < ymin)
    if np.any(inverted):
        area = np.where(inverted, F32(0), area).astype(F32, copy=False)
    return area


def decode(prior, var, loc, code_type, variance_encoded, normalized, clip_bounds=None):
    """Decoded boxes (P, 4) float32 from priors (P, 4), variances (P, 4) and offsets (P, 4)."""
    prior = prior.astype(F32, copy=False)
    loc = loc.astype(F32, copy=False)
    b = loc if variance_encoded else (var.astype(F32, copy=False) * loc)
    pxmin, pymin, pxmax, pymax = prior.T
    if code_type == CodeType.CORNER:
        out = prior + b
    elif code_type == CodeType.CENTER_SIZE:
        pw = pxmax - pxmin
        ph = pymax - pymin
        if not normalized:
            pw = pw + F32(1)
            ph = ph + F32(1)
        # `x + w * .5` is evaluated in double in OpenCV, then stored as float
        pcx = (pxmin.astype(np.float64) + pw.astype(np.float64) * 0.5).astype(F32)
        pcy = (pymin.astype(np.float64) + ph.astype(np.float64) * 0.5).astype(F32)
        cx = b[:, 0] * pw + pcx
        cy = b[:, 1] * ph + pcy
        w = np.exp(b[:, 2]).astype(F32) * pw
        h = np.exp(b[:, 3]).astype(F32) * ph
        half_w = w.astype(np.float64) * 0.5
        half_h = h.astype(np.float64) * 0.5
        out = np.stack([(cx - half_w), (cy - half_h), (cx + half_w), (cy + half_h)],
                       axis=1).astype(F32)
    elif code_type == CodeType.CORNER_SIZE:
        pw = pxmax - pxmin
        ph = pymax - pymin
        if not normalized:
            pw = pw + F32(1)
            ph = ph + F32(1)
        out = prior + b * np.stack([pw, ph, pw, ph], axis=1)
    else:  # pragma: no cover - the enum has no other value
        raise ValueError(f"unknown code_type {code_type}")
    out = out.astype(F32)
    if clip_bounds is not None:
        xmax, ymax = clip_bounds
        out[:, 0::2] = np.clip(out[:, 0::2], F32(0), F32(xmax))
        out[:, 1::2] = np.clip(out[:, 1::2], F32(0), F32(ymax))
    return out


def nms(boxes, sizes, scores, threshold, nms_threshold, top_k, normalized, limit=None,
        matrix_min=None):
    """Indices kept by OpenCV's NMSFast_ (in the order they were kept): the candidates
    :func:`ranked`, then :func:`scan`."""
    order = ranked(scores, np.flatnonzero(scores > F32(threshold)), top_k)
    kept = scan(boxes[order], sizes[order], nms_threshold, normalized, limit, matrix_min)
    return [int(order[k]) for k in kept]


def scan(boxes, sizes, nms_threshold, normalized, limit=None, matrix_min=None):
    """NMSFast_'s greedy scan over ``boxes`` (n, 4) and ``sizes`` (n,) already in its order:
    the positions kept. By the C scan (:func:`_kernel`) where it was built and no
    ``matrix_min`` is given; else up to ``matrix_min`` candidates (default
    :data:`MATRIX_NMS`) by the pairwise form, more by the numpy loop: the same positions."""
    thr = F32(nms_threshold)
    kernel = _kernel()
    if kernel is not None and matrix_min is None:
        return kernel.greedy(np.ascontiguousarray(boxes, F32), np.ascontiguousarray(sizes, F32),
                             float(thr), bool(normalized), -1 if limit is None else int(limit))
    boxes, sizes = boxes.astype(F32, copy=False), sizes.astype(F32, copy=False)
    if len(boxes) <= (MATRIX_NMS if matrix_min is None else matrix_min):
        return _nms_matrix(boxes, sizes, thr, normalized, limit)
    kept = []
    for idx in range(len(boxes)):
        if kept:
            b, k = boxes[idx], np.asarray(kept)
            ixmin = np.maximum(boxes[k, 0], b[0])
            iymin = np.maximum(boxes[k, 1], b[1])
            ixmax = np.minimum(boxes[k, 2], b[2])
            iymax = np.minimum(boxes[k, 3], b[3])
            inter = box_size(ixmin, iymin, ixmax, iymax, normalized)
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = np.where(inter > 0, inter / (sizes[idx] + sizes[k] - inter), F32(0))
            if np.any(iou.astype(F32) > thr):
                continue
        kept.append(idx)
        if limit is not None and limit >= 0 and len(kept) >= limit:
            break
    return kept


def _kernel():
    """The C scan (``caffe_compat/kernels/_nms_kernel.c``: the same float32 operations; the
    res10 SSD's 400 candidates of random weights in 0.21 ms against the pairwise form's 0.45),
    or None where it was not built."""
    global _KERNEL
    if _KERNEL is False:
        try:
            from ..kernels import _nms_kernel as _KERNEL
        except ImportError:
            _KERNEL = None
    return _KERNEL


_KERNEL = False


def ranked(scores, candidates, top_k=None):
    """``candidates`` (ascending indices) by descending score, equal scores in index order,
    the first ``top_k`` of them where ``0 < top_k``: a stable sort of all, cut, as OpenCV's
    GetMaxScoreIndex. Where ``top_k`` cuts, the candidates at or above the ``top_k``-th
    score are found by a partition first (the same ones, ties at the cut the lowest
    indices), so that only they are sorted."""
    values = scores[candidates]
    if top_k is not None and 0 < top_k < len(values):
        cut = len(values) - top_k
        kth = np.partition(values, cut)[cut]
        above = values > kth
        ties = np.flatnonzero(values == kth)[:top_k - int(np.count_nonzero(above))]
        above[ties] = True
        candidates, values = candidates[above], values[above]
    return candidates[np.argsort(-values, kind="stable")]


# candidates up to which the IoUs of all pairs are computed at once (a few MB at most)
MATRIX_NMS = 1024


def _nms_matrix(b, s, thr, normalized, limit, block=64):
    """:func:`scan`'s loop with the IoUs of the candidates computed beforehand, ``block``
    candidates' rows at a time and only as far as the scan goes (it stops at ``limit`` kept
    boxes), by the same float32 operations (element by element, so the same values): the
    same boxes kept. A block's IoUs are computed only between the candidates no kept box has
    suppressed yet (rows of the block, columns from it on): the others' are never read."""
    n = len(b)
    suppressed = np.zeros(n, bool)
    kept = []
    for start in range(0, n, block):
        stop = min(start + block, n)
        rows = start + np.flatnonzero(~suppressed[start:stop])
        if not len(rows):
            continue
        cols = start + np.flatnonzero(~suppressed[start:])     # rows are its first ones
        over = _overlaps(b, s, rows, cols, thr, normalized)
        gone = np.zeros(len(cols), bool)
        for r in range(len(rows)):
            if gone[r]:
                continue
            kept.append(rows[r])
            if limit is not None and limit >= 0 and len(kept) >= limit:
                return [int(k) for k in kept]
            # the IoUs are symmetric (every operation below is), so "a overlaps a kept box"
            # is the union of the kept boxes' rows: one vector OR per kept box (over the
            # candidates not suppressed from the block on: those before it are decided)
            gone |= over[r]
        suppressed[cols] = gone
    return [int(k) for k in kept]


def _overlaps(b, s, rows, cols, thr, normalized):
    """Whether candidates ``rows`` overlap candidates ``cols`` (index arrays) by more than
    ``thr``: :func:`nms`'s IoU, sizes[idx] + kept_sizes - inter, by the same float32
    operations; an inverted intersection (:func:`box_size`'s 0) or one of no area is no
    overlap."""
    rb, cb = b[rows], b[cols]
    ixmin = np.maximum(cb[None, :, 0], rb[:, None, 0])
    iymin = np.maximum(cb[None, :, 1], rb[:, None, 1])
    w = np.minimum(cb[None, :, 2], rb[:, None, 2])
    w -= ixmin
    h = np.minimum(cb[None, :, 3], rb[:, None, 3])
    h -= iymin
    if normalized:
        inter = w * h
    else:
        inter = (w + F32(1)) * (h + F32(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = s[rows, None] + s[None, cols]
        denominator -= inter
        over = np.divide(inter, denominator, out=denominator) > thr
    apart = ~(inter > 0)
    apart |= w < 0
    apart |= h < 0
    over[apart] = F32(0) > thr          # a pair that does not intersect has IoU 0
    return over
