"""DetectionOutput's NMS scan in C (``caffe_compat/kernels/_nms_kernel.c``) keeps the boxes
the numpy scans keep (:func:`caffe_compat.rules.boxes.nms`: the pairwise form and the rule's
:func:`~caffe_compat.rules.boxes.greedy`, on numpy and on torch),
on random boxes with inverted, empty, touching and NaN ones, both box conventions, thresholds
around and below 0 and limits: the same float32 operations, so the same boxes exactly. Its
DetectionOutput step (ranking, decoding, suppression of one class) writes the numpy rule's
bytes on random settings of every code type, with ties, overflowing and NaN offsets."""
import numpy as np
import pytest
import torch

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
        sizes = det.box_size(*b.T, normalized, np)
        args = (b, sizes, scores, thr, nms_thr, top_k, normalized, limit)
        got = det.nms(*args)
        assert got == det.nms(*args, matrix_min=10 ** 9), (n, thr, nms_thr, limit)
        assert got == det.nms(*args, matrix_min=0), (n, thr, nms_thr, limit)
        # the rule on torch tensors (the PyTorch-source export's model.py runs it so)
        t = torch.from_numpy(b)
        order = det.ranked(torch.from_numpy(scores), thr, top_k, torch)
        kept = det.greedy(t[order], det.box_size(*t.unbind(1), normalized, torch)[order],
                          nms_thr, normalized, limit, torch)
        assert order[kept].tolist() == got, (n, thr, nms_thr, limit)


def test_bad_buffers_are_refused():
    with pytest.raises(ValueError, match="float32"):
        kernel.greedy(np.zeros((3, 4)), np.zeros(3, np.float32), 0.5, True, -1)
    with pytest.raises(ValueError, match="boxes"):
        kernel.greedy(np.zeros((3, 3), np.float32), np.zeros(3, np.float32), 0.5, True, -1)


def _settings(rng, trial):
    from caffe_compat.proto import caffe_pb2
    p = caffe_pb2.DetectionOutputParameter()
    p.num_classes = int(rng.integers(1, 5))
    p.share_location = bool(trial % 2)
    p.background_label_id = int(rng.integers(0, p.num_classes + 1)) if p.share_location \
        else int(rng.integers(-1, p.num_classes))
    p.code_type = 1 + trial % 3
    p.variance_encoded_in_target = bool(trial % 5 == 1)
    p.keep_top_k = int(rng.choice([-1, 1, 3, 50]))
    p.normalized_bbox = bool(trial % 4 < 2)
    p.clip = bool(trial % 3 == 1)
    if trial % 2:
        p.confidence_threshold = float(rng.choice([-1.0, 0.0, 0.1, 0.5]))
    p.nms_param.nms_threshold = float(rng.choice([0.3, 0.45, 0.7]))
    if trial % 3:
        p.nms_param.top_k = int(rng.choice([5, 20, 400]))
    return p


@pytest.mark.parametrize("trial", range(48))
def test_the_c_detection_step_writes_the_numpy_rules_bytes(trial):
    from caffe_compat.layers import _detection
    from caffe_compat.rules.detection_output import DetectionRule
    rng = np.random.default_rng(100 + trial)
    p = _settings(rng, trial)
    n, priors = int(rng.integers(1, 3)) + (trial % 6 == 5) * 3, int(rng.integers(1, 300))
    loc = rng.standard_normal((n, priors * (1 if p.share_location else p.num_classes) * 4))
    loc = (loc * (60.0 if trial % 5 == 0 else 0.5)).astype(np.float32)   # exp overflows
    if trial % 7 == 0:
        loc[..., ::9] = np.nan
    conf = rng.random((n, priors * p.num_classes)).astype(np.float32)
    if trial % 4 == 0:
        conf = (np.round(conf * 8) / 8).astype(np.float32)                # ties
    centre, size = rng.random((priors, 2)) * 0.8, rng.random((priors, 2)) * 0.3
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)
    boxes = boxes if p.normalized_bbox else (boxes * 300).astype(np.float32)
    prior = np.stack([boxes.reshape(-1), np.tile(np.float32([0.1, 0.1, 0.2, 0.2]), priors)])
    args = (loc, conf, prior[None], (300, 240))
    if p.share_location and p.background_label_id == -1:
        return                                  # refused by the rule (as by Caffe)
    by_c = DetectionRule(p, pytest.fail).detections(*args)
    by_numpy = DetectionRule(p, pytest.fail, scan=_detection.scan).detections(*args)
    assert by_c.shape == by_numpy.shape and by_c.tobytes() == by_numpy.tobytes()
    # the images shared with the helper thread (the torch-free path at two threads or more):
    # each image's rows are its own, so the same bytes
    by_two = DetectionRule(p, pytest.fail).detections(*args, threads=2)
    assert by_two.shape == by_c.shape and by_two.tobytes() == by_c.tobytes()


@pytest.mark.parametrize("image_hw", [(0, 0), (1, 1), (0, 240)])
def test_the_c_detection_step_clips_to_an_image_of_no_width_as_numpy(image_hw):
    # clip of boxes in pixels bounds them by width - 1 and height - 1, -1 for an image of no
    # width or height: the C step clips there too (only NaN bounds mean no clip)
    from caffe_compat.layers import _detection
    from caffe_compat.proto import caffe_pb2
    from caffe_compat.rules.detection_output import DetectionRule
    p = caffe_pb2.DetectionOutputParameter(num_classes=2, share_location=True,
                                           background_label_id=0, code_type=1, keep_top_k=5,
                                           normalized_bbox=False, clip=True)
    p.nms_param.nms_threshold = 0.45
    rng = np.random.default_rng(7)
    priors = 6
    loc = rng.standard_normal((1, priors * 4)).astype(np.float32)
    conf = rng.random((1, priors * 2)).astype(np.float32)
    boxes = (rng.random((priors, 4)) * 10).astype(np.float32)
    prior = np.stack([boxes.reshape(-1), np.full(priors * 4, 0.1, np.float32)])[None]
    by_c = DetectionRule(p, pytest.fail).detections(loc, conf, prior, image_hw)
    by_numpy = DetectionRule(p, pytest.fail, scan=_detection.scan).detections(loc, conf, prior,
                                                                             image_hw)
    assert by_c.tobytes() == by_numpy.tobytes()


def test_the_c_detection_step_refuses_variances_of_another_width():
    f = np.float32
    order, wh = np.zeros(3, np.int64), np.zeros((3, 2), f)
    loc, prior = np.zeros((3, 4), f), np.zeros((3, 4), f)
    with pytest.raises(ValueError, match="candidates"):
        kernel.candidates(np.ones((3, 2), f), 1, 0.0, -1, loc, 0, np.zeros((3, 2), f), order,
                          wh)
    with pytest.raises(ValueError, match="decode_scan"):
        kernel.decode_scan(order, 3, wh, loc, 0, prior, np.zeros((3, 2), f), 2, True,
                           float("nan"), float("nan"), 0.5, -1, np.zeros((3, 4), f),
                           np.zeros(3, f))
