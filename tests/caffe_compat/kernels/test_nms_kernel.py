"""DetectionOutput's NMS scan in C (``caffe_compat/kernels/_nms_kernel.c``) keeps the boxes
the numpy scans keep (:func:`caffe_compat.rules.boxes.nms`: the pairwise form and the loop),
on random boxes with inverted, empty, touching and NaN ones, both box conventions, thresholds
around and below 0 and limits: the same float32 operations, so the same boxes exactly."""
import numpy as np
import pytest

from caffe_compat.rules import boxes as det

kernel = pytest.importorskip("caffe_compat.kernels._nms_kernel")


def _case(seed, n):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n, 2)).astype(np.float32)
    wh = rng.uniform(-0.05, 0.4, (n, 2)).astype(np.float32)       # some inverted
    b = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    b[rng.random(n) < 0.05] = b[0]                                 # repeated boxes
    touching = rng.random(n) < 0.03
    b[touching, 2] = b[touching, 0]                                # no width
    if seed % 5 == 0:
        b[rng.integers(0, n)] = np.nan
    scores = rng.uniform(0, 1, n).astype(np.float32)
    scores[rng.random(n) < 0.1] = scores[0]                        # ties
    return b, scores


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_the_c_scan_keeps_the_numpy_scans_boxes(seed, normalized):
    for n, thr, nms_thr, top_k, limit in [(50, 0.1, 0.45, -1, None), (400, 0.0, 0.3, 400, 200),
                                          (700, 0.2, 0.5, -1, 3), (300, 0.0, -0.5, 100, None),
                                          (120, 0.0, 0.0, -1, 0), (1, 0.0, 0.5, -1, None)]:
        b, scores = _case(seed * 7 + n, n)
        if not normalized:
            b = b * np.float32(300)
        sizes = det.box_size(*b.T, normalized)
        args = (b, sizes, scores, thr, nms_thr, top_k, normalized, limit)
        got = det.nms(*args)
        assert got == det.nms(*args, matrix_min=10 ** 9), (n, thr, nms_thr, limit)
        assert got == det.nms(*args, matrix_min=0), (n, thr, nms_thr, limit)


def test_bad_buffers_are_refused():
    with pytest.raises(ValueError, match="float32"):
        kernel.greedy(np.zeros((3, 4)), np.zeros(3, np.float32), 0.5, True, -1)
    with pytest.raises(ValueError, match="boxes"):
        kernel.greedy(np.zeros((3, 3), np.float32), np.zeros(3, np.float32), 0.5, True, -1)
