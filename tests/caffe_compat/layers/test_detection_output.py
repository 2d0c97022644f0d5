"""DetectionOutput against OpenCV 4 dnn (committed fixture: CENTER_SIZE with shared locations,
CORNER with per-class locations and a background class in the middle, one target class with
clip, no background class; batch of two; keep_top_k cutting across classes and zero rows),
OpenCV's tie rule, SSD's CORNER_SIZE, and inference-only backward."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from caffe_compat.layers._detection import DetectionWarning
from tests.caffe_compat.layers.helpers_struct import input_net, make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# Same detections; confidences are copied and boxes decoded in float32 with exp: 1e-4.
TOL = compare.DET_TOL


def test_detection_output_matches_opencv():
    worst = compare.report("DetectionOutput vs OpenCV 4", compare.check_case(
        "DetectionOutput", cases.detection_output_case()))
    assert worst <= TOL


def _net(spec, priors, loc, conf):
    p = len(priors)
    net = input_net({"loc": (1, p * 4), "conf": (1, conf.size), "prior": (1, 2, p * 4)},
                    'layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" '
                    f'bottom: "prior" top: "det" detection_output_param {{ {spec} }} }}',
                    force_backward=False)
    prior = np.stack([np.asarray(priors, np.float32).reshape(-1),
                      np.full(p * 4, 0.1, np.float32)])[None]
    with torch.no_grad():
        out = net.forward(loc=loc.reshape(1, -1), conf=conf.reshape(1, -1), prior=prior)
    return out["det"].numpy().reshape(-1, 7)


def test_equal_scores_keep_prior_order_in_nms():
    # Two identical boxes with the same score: NMS (a stable sort) keeps the first prior.
    priors = [[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]]
    conf = np.array([[0.2, 0.8], [0.2, 0.8], [0.3, 0.7]], np.float32)
    rows = _net("num_classes: 2 keep_top_k: 5 nms_param { nms_threshold: 0.5 }", priors,
                np.zeros((3, 4), np.float32), conf)
    kept = rows[rows[:, 2] > 0]
    assert kept[:, 2].tolist() == pytest.approx([0.8, 0.7])
    assert kept[0, 3:].tolist() == pytest.approx([0.1, 0.1, 0.5, 0.5])


def test_corner_size_decodes_as_ssd():
    # weiliu89's SSD: corner + variance * offset * prior size (OpenCV's proto lacks CORNER_SIZE)
    priors = np.array([[0.2, 0.3, 0.6, 0.5]], np.float32)
    loc = np.array([[0.5, -1.0, 2.0, 0.25]], np.float32)
    rows = _net("num_classes: 2 code_type: CORNER_SIZE keep_top_k: 1 "
                "nms_param { nms_threshold: 0.5 }", priors, loc,
                np.array([[0.1, 0.9]], np.float32))
    w, h = 0.4, 0.2
    want = priors[0] + 0.1 * loc[0] * np.array([w, h, w, h])
    assert np.abs(rows[0, 3:] - want).max() <= 1e-6     # float32 rounding of a few operations


def test_keep_all_gives_one_row_per_detection():
    priors = [[0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.9, 0.9]]
    rows = _net("num_classes: 2 nms_param { nms_threshold: 0.5 }", priors,
                np.zeros((2, 4), np.float32), np.array([[0.1, 0.9], [0.4, 0.6]], np.float32))
    assert rows.shape == (2, 7) and rows[:, 2].tolist() == pytest.approx([0.9, 0.6])


def test_backward_is_refused():
    layer = make_layer('name: "det" type: "DetectionOutput" bottom: "l" bottom: "c" bottom: "p" '
                       'top: "d" detection_output_param { num_classes: 2 keep_top_k: 2 }',
                       (1, 8), (1, 4), (1, 2, 8))
    loc = torch.zeros((1, 8), requires_grad=True)
    prior = torch.tensor([[[0.1, 0.1, 0.4, 0.4, 0.5, 0.5, 0.9, 0.9]] * 2])
    out = layer(loc, torch.tensor([[0.1, 0.9, 0.3, 0.7]]), prior)
    with pytest.raises(NetError, match="layer 'det': DetectionOutput has no backward"):
        out.sum().backward()


@pytest.mark.parametrize("spec, message", [
    ("keep_top_k: 2", "num_classes is required"),
    ("num_classes: 3 background_label_id: -1", "background_label_id -1 with share_location"),
    ("num_classes: 3", r"confidence bottom \(1, 4\) should hold 2 priors x 3 classes"),
])
def test_bad_settings(spec, message):
    with pytest.raises(NetError, match=f"layer 'det'.*{message}"):
        make_layer(f'name: "det" type: "DetectionOutput" bottom: "l" bottom: "c" bottom: "p" '
                   f'top: "d" detection_output_param {{ {spec} }}', (1, 8), (1, 4), (1, 2, 8))


def test_adaptive_nms_is_named_as_unused():
    with pytest.warns(DetectionWarning, match="layer 'det': nms_param.eta 0.9 is not used"):
        make_layer('name: "det" type: "DetectionOutput" bottom: "l" bottom: "c" bottom: "p" '
                   'top: "d" detection_output_param { num_classes: 2 nms_param { eta: 0.9 } }',
                   (1, 8), (1, 4), (1, 2, 8))


@pytest.mark.parametrize("normalized", [True, False])
def test_nms_with_all_pair_ious_keeps_the_scans_boxes(normalized, monkeypatch):
    # the pairwise IoUs come from the same float32 operations: the same boxes, in order
    from caffe_compat.layers import _detection as det
    rng = np.random.default_rng(3)
    for trial in range(36):
        n = int(rng.integers(1, 600))
        xy = rng.uniform(0, 1, (n, 2)).astype(np.float32)
        wh = rng.uniform(-0.05, 0.4, (n, 2)).astype(np.float32)
        boxes = np.concatenate([xy, xy + wh], 1)
        if trial % 3 == 0:
            boxes = np.round(boxes * 20) / 20          # equal boxes and touching edges
        boxes = (boxes if normalized else boxes * 300).astype(np.float32)
        sizes = det.box_size(*boxes.T, normalized, np)
        scores = rng.uniform(0, 1, n).astype(np.float32)
        if trial % 4 == 0:
            scores = (np.round(scores * 10) / 10).astype(np.float32)     # equal scores
        args = (boxes, sizes, scores, 0.2, [0.3, 0.45, 0.7][trial % 3],
                [-1, 0, 50, 400][trial % 4], normalized, [None, 5, 200][trial % 3])
        monkeypatch.setattr(det, "MATRIX_NMS", 1024)
        fast = det.nms(*args)
        monkeypatch.setattr(det, "MATRIX_NMS", -1)
        assert fast == det.nms(*args), trial


def test_ranked_candidates_equal_a_stable_sort_cut_at_top_k_on_numpy_and_torch():
    # the one rule on both array modules, and its numpy form with a partition before the sort:
    # the candidates above the threshold, ties in index order (at the cut too), cut at top_k
    import torch
    from caffe_compat.rules.boxes import ranked, ranked_numpy
    rng = np.random.default_rng(5)
    for trial in range(200):
        n = int(rng.integers(0, 300))
        scores = rng.uniform(0, 1, n).astype(np.float32)
        if trial % 2:
            scores = (np.round(scores * 6) / 6).astype(np.float32)     # many equal scores
        threshold = F32_THRESHOLD[trial % 3]
        candidates = np.flatnonzero(scores > threshold)
        top_k = [-1, 0, 1, 7, 50, 400][trial % 6]
        full = candidates[np.argsort(-scores[candidates], kind="stable")]
        if 0 < top_k < len(full):
            full = full[:top_k]
        assert ranked(scores, threshold, top_k, np).tolist() == full.tolist(), trial
        assert ranked_numpy(scores, threshold, top_k).tolist() == full.tolist(), trial
        got = ranked(torch.from_numpy(scores), float(threshold), top_k, torch)
        assert got.tolist() == full.tolist(), trial


F32_THRESHOLD = (np.float32(0), np.float32(0.3), np.float32(-1))


@pytest.mark.parametrize("code_type", [1, 2, 3])
@pytest.mark.parametrize("normalized", [True, False])
def test_decoding_some_priors_gives_the_floats_of_decoding_all(code_type, normalized):
    # DetectionRule decodes only the candidates NMS visits: decoding works prior by prior
    # (numpy's float32 exp included, whatever the array's length), so those rows are exact
    from caffe_compat.rules.boxes import decode
    rng = np.random.default_rng(code_type + 10 * normalized)
    for n in (1, 7, 16, 33, 400, 8732):
        xy = rng.uniform(0, 1, (n, 2)).astype(np.float32)
        prior = np.concatenate([xy, xy + rng.uniform(0, 0.4, (n, 2))], 1).astype(np.float32)
        prior = prior if normalized else (prior * 300).astype(np.float32)
        var = rng.uniform(0.05, 0.3, (n, 4)).astype(np.float32)
        loc = rng.standard_normal((n, 4)).astype(np.float32)
        for encoded in (False, True):
            v = None if encoded else var
            whole = decode(prior, v, loc, code_type, normalized, (299.0, 299.0), np)
            for pick in (rng.permutation(n)[:max(1, n // 3)], np.arange(n)[::-1][:5]):
                part = decode(prior[pick], None if encoded else var[pick], loc[pick], code_type,
                              normalized, (299.0, 299.0), np)
                assert np.array_equal(part, whole[pick]), (n, encoded)
