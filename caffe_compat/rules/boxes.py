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


def box_size(xmin, ymin, xmax, ymax, normalized, xp):
    """OpenCV's BBoxSize on arrays of the array module ``xp`` (numpy or torch): 0 for an
    inverted box, ``w h`` (normalized) or ``(w + 1)(h + 1)`` (pixels)."""
    w, h = xmax - xmin, ymax - ymin
    area = w * h if normalized else (w + 1.0) * (h + 1.0)
    return xp.where((xmax < xmin) | (ymax < ymin), 0.0, area)


def decode(prior, var, loc, code_type, normalized, clip, xp):
    """Boxes (P, 4) decoded from priors (P, 4), variances (P, 4; None: encoded in the target)
    and offsets (P, 4), float32 arrays of the array module ``xp`` (numpy or torch), as OpenCV
    4 computes them: CORNER 1, CENTER_SIZE 2 (the prior's centre ``xmin + w / 2`` in double,
    the corners ``centre -+ size / 2`` in double), CORNER_SIZE 3; prior sizes get +1 for boxes
    in pixels. ``clip`` (xmax, ymax): the corners clamped to ``[0, xmax] x [0, ymax]``."""
    f32, f64 = xp.float32, xp.float64
    b = loc if var is None else var * loc
    pw, ph = prior[:, 2] - prior[:, 0], prior[:, 3] - prior[:, 1]
    if not normalized:
        pw, ph = pw + 1.0, ph + 1.0
    if code_type == 1:             # CORNER
        out = prior + b
    elif code_type == 2:           # CENTER_SIZE
        pcx = xp.asarray(xp.asarray(prior[:, 0], dtype=f64) + xp.asarray(pw, dtype=f64) * 0.5,
                         dtype=f32)
        pcy = xp.asarray(xp.asarray(prior[:, 1], dtype=f64) + xp.asarray(ph, dtype=f64) * 0.5,
                         dtype=f32)
        cx = xp.asarray(b[:, 0] * pw + pcx, dtype=f64)
        cy = xp.asarray(b[:, 1] * ph + pcy, dtype=f64)
        half_w = xp.asarray(xp.exp(b[:, 2]) * pw, dtype=f64) * 0.5
        half_h = xp.asarray(xp.exp(b[:, 3]) * ph, dtype=f64) * 0.5
        out = xp.asarray(xp.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1),
                         dtype=f32)
    elif code_type == 3:           # CORNER_SIZE
        out = prior + b * xp.stack([pw, ph, pw, ph], axis=1)
    else:
        raise ValueError(f"unknown code_type {code_type} (1 CORNER, 2 CENTER_SIZE, "
                         "3 CORNER_SIZE)")
    if clip is not None:
        out[:, 0::2] = xp.clip(out[:, 0::2], 0.0, clip[0])
        out[:, 1::2] = xp.clip(out[:, 1::2], 0.0, clip[1])
    return out


def ranked(scores, threshold, top_k, xp):
    """The indices whose score is strictly above ``threshold``, by descending score, equal
    scores in index order, the first ``top_k`` of them where ``0 < top_k`` (OpenCV's
    GetMaxScoreIndex: a stable sort of all, cut)."""
    candidates = xp.where(scores > threshold)[0]
    order = candidates[xp.argsort(-scores[candidates], stable=True)]
    return order[:top_k] if 0 < top_k < len(order) else order


def ranked_numpy(scores, threshold, top_k):
    """:func:`ranked` of numpy arrays, faster where ``top_k`` cuts (the res10 SSD's 7,500
    candidates cut at 400: 0.05 ms against 1.5): the candidates at or above the ``top_k``-th
    score found by a partition first (the same ones, ties at the cut the lowest indices), so
    that only they are sorted."""
    candidates = np.flatnonzero(scores > threshold)
    values = scores[candidates]
    if 0 < top_k < len(values):
        cut = len(values) - top_k
        kth = np.partition(values, cut)[cut]
        above = values > kth
        ties = np.flatnonzero(values == kth)[:top_k - int(np.count_nonzero(above))]
        above[ties] = True
        candidates, values = candidates[above], values[above]
    return candidates[np.argsort(-values, kind="stable")]


def greedy(boxes, sizes, nms_threshold, normalized, limit, xp):
    """NMSFast_'s greedy scan (eta 1) over ``boxes`` (n, 4) and ``sizes`` (n,) already in its
    order (arrays of ``xp``, numpy or torch, float32): a box is kept when its IoU with every
    box kept before is at most ``nms_threshold`` (``inter / (size + kept size - inter)``,
    0 where the intersection's :func:`box_size` is not positive); the scan stops once
    ``limit`` boxes are kept (None or negative: no limit). The positions kept, in order."""
    kept, kept_boxes, kept_sizes = [], xp.zeros_like(boxes), xp.zeros_like(sizes)
    for a in range(len(boxes)):
        box, m = boxes[a], len(kept)
        if m:
            low = xp.maximum(kept_boxes[:m, :2], box[:2])
            high = xp.minimum(kept_boxes[:m, 2:], box[2:])
            inter = box_size(low[:, 0], low[:, 1], high[:, 0], high[:, 1], normalized, xp)
            if (xp.where(inter > 0, inter / (sizes[a] + kept_sizes[:m] - inter), 0.0)
                    > nms_threshold).any():
                continue
        kept_boxes[m], kept_sizes[m] = box, sizes[a]
        kept.append(a)
        if limit is not None and 0 <= limit <= len(kept):
            break
    return kept


def nms(boxes, sizes, scores, threshold, nms_threshold, top_k, normalized, limit=None,
        matrix_min=None):
    """Indices kept by OpenCV's NMSFast_ (in the order they were kept) of numpy arrays: the
    candidates :func:`ranked_numpy`, then :func:`scan`."""
    order = ranked_numpy(scores, F32(threshold), top_k)
    kept = scan(boxes[order], sizes[order], nms_threshold, normalized, limit, matrix_min)
    return [int(order[k]) for k in kept]


def scan(boxes, sizes, nms_threshold, normalized, limit=None, matrix_min=None):
    """:func:`greedy` on numpy arrays: by the C scan (:func:`_kernel`) where it was built and
    no ``matrix_min`` is given; else up to ``matrix_min`` candidates (default
    :data:`MATRIX_NMS`) by the pairwise form, more by :func:`greedy` itself: the same
    positions."""
    thr = F32(nms_threshold)
    kernel = _kernel()
    if kernel is not None and matrix_min is None:
        return kernel.greedy(np.ascontiguousarray(boxes, F32), np.ascontiguousarray(sizes, F32),
                             float(thr), bool(normalized), -1 if limit is None else int(limit))
    boxes, sizes = boxes.astype(F32, copy=False), sizes.astype(F32, copy=False)
    if len(boxes) <= (MATRIX_NMS if matrix_min is None else matrix_min):
        return _nms_matrix(boxes, sizes, thr, normalized, limit)
    with np.errstate(divide="ignore", invalid="ignore"):
        return greedy(boxes, sizes, thr, normalized, limit, np)


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
    inter = w * h if normalized else (w + F32(1)) * (h + F32(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = s[rows, None] + s[None, cols]
        denominator -= inter
        over = np.divide(inter, denominator, out=denominator) > thr
    apart = ~(inter > 0)
    apart |= w < 0
    apart |= h < 0
    over[apart] = F32(0) > thr          # a pair that does not intersect has IoU 0
    return over
