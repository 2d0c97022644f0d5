"""The conformance grid's detection, sequence, indexing and remaining shape layers (PriorBox ...
DetectionOutput, LSTM, RNN, LSTMUnit, Embed, BatchReindex, Filter, Im2col, SPP, Split,
Normalize) at the edges of their rules, in :mod:`.grid`'s format (merged into it; this module
does not import it), and ``FEEDS``: case -> ``feed(rng, shapes) -> {input: array}`` for the
cases whose inputs a normal draw cannot give (indices, ROIs, sequence flags, probabilities,
priors, a selector)."""
from __future__ import annotations

import numpy as np

from tests.caffe_compat.opencv_fixtures.cases import PRIOR_SPECS
from tests.caffe_compat.opencv_fixtures.nets import layer, rois

UNIFORM = 'type: "uniform" min: -0.5 max: 0.5'
FILLERS = f"weight_filler {{ {UNIFORM} }} bias_filler {{ {UNIFORM} }}"


def net(inputs, type_name, params="", tops=("y",)):
    """One Input layer per ``inputs`` entry (name -> shape), then a layer ``y`` of
    ``type_name`` reading them in that order."""
    head = "".join(f'layer {{ name: "{n}" type: "Input" top: "{n}" input_param {{ shape {{ '
                   + " ".join(f"dim: {d}" for d in s) + " } } }\n" for n, s in inputs.items())
    return 'name: "grid"\n' + head + layer("y", type_name, list(inputs), params, list(tops))


def drawn(**draws):
    """A feed: each input named in ``draws`` drawn by ``draws[name](rng, shape)``, the others
    normal(0, 1), in the net's order."""
    def feed(rng, shapes):
        return {n: np.asarray(draws[n](rng, s) if n in draws else rng.normal(0, 1, s),
                              np.float32) for n, s in shapes.items()}
    return feed


def index(count):
    """Row indices in ``[0, count)`` (Embed's and BatchReindex's: integers in floats)."""
    return lambda rng, shape: rng.integers(0, count, shape)


def flags(rng, shape):
    """0/1 values (Filter's selector, LSTMUnit's ``cont``)."""
    return rng.integers(0, 2, shape)


def cont(rng, shape):
    """A recurrent layer's sequence flags (T, N): 0 starts a sequence (every stream's first
    step), 1 continues it (about 70% of the later steps)."""
    out = rng.uniform(size=shape) > 0.3
    out[0] = False
    return out


def image_rois(width, height, extra=()):
    """ROIs of :func:`opencv_fixtures.nets.rois` (some partly outside the image, batch indices
    of 2 images) in an image of ``width`` x ``height`` pixels, ``extra`` rows appended."""
    def draw(rng, shape):
        legacy = np.random.RandomState(int(rng.integers(1 << 31)))
        return rois(legacy, shape[0] - len(extra), 2, width, height, extra)
    return draw


def softmaxed(rng, shape, axis=1):
    """Positive values summing to 1 along ``axis`` (probabilities, scores)."""
    e = np.exp(rng.uniform(-2, 2, shape))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def prior_boxes(rng, count):
    """PriorBox's top (1, 2, 4 ``count``) for boxes inside the image, then their variances."""
    centre = rng.uniform(0.2, 0.8, (count, 2))
    size = rng.uniform(0.1, 0.4, (count, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).reshape(-1)
    variances = np.tile([0.1, 0.1, 0.2, 0.2], count)
    return np.stack([boxes, variances])[None].astype(np.float32)


def probs(classes):
    """Softmaxed confidences of ``classes`` per prior, flattened as (N, P classes)."""
    return lambda rng, shape: softmaxed(rng, (shape[0], shape[1] // classes, classes), axis=2) \
        .reshape(shape)


def priors(rng, shape):
    """PriorBox's top (1, 2, 4P), or its boxes alone (1, 1, 4P: variances in the target)."""
    return prior_boxes(rng, shape[2] // 4)[:, :shape[1]]


def recurrent(type_name, expose=False, static=False, steps=4, streams=2, hidden=5):
    """``type_name`` (LSTM or RNN) over x (T, N, 3, 2) and ``cont``, with a static input (N, 4)
    and the initial states (1, N, H) as bottoms and the last ones as tops where asked."""
    inputs = {"x": (steps, streams, 3, 2), "cont": (steps, streams)}
    inputs.update({"xs": (streams, 4)} if static else {})
    states = ("h", "c") if type_name == "LSTM" else ("h",)
    inputs.update({f"{s}0": (1, streams, hidden) for s in states} if expose else {})
    tops = ("y",) + tuple(f"{s}T" for s in states if expose)
    return net(inputs, type_name, f"recurrent_param {{ num_output: {hidden} expose_hidden: "
               f"{str(expose).lower()} {FILLERS} }}", tops)


def detection(loc, conf, prior, params):
    """DetectionOutput over inputs ``loc``, ``conf`` and ``prior`` of the shapes given."""
    return net({"loc": loc, "conf": conf, "prior": prior}, "DetectionOutput",
               f"detection_output_param {{ {params} }}")


SEQ = drawn(cont=cont)
# 20 priors: shared locations (N, 4P), unshared (N, 4PC), 4 classes (N, PC)
DETECTIONS = drawn(loc=lambda rng, s: rng.normal(0, 0.4, s), conf=probs(4), prior=priors)
PROPOSALS = drawn(scores=softmaxed,
                  deltas=lambda rng, s: rng.normal(0, 0.3, s),
                  im_info=lambda rng, s: np.array([[47, 71, 1.0]]))
FEAT_IMG = {"feat": (1, 4, 5, 7), "img": (1, 3, 41, 53)}

CASES = {
    # Split: every top a copy
    "split two tops": ("Split", net({"data": (2, 3, 4, 5)}, "Split", tops=("y", "y1"))),
    "split three tops 2-axis": ("Split", net({"data": (3, 7)}, "Split", tops=("y", "y1", "y2"))),
    # Normalize (NormalizeBBox: OpenCV's name): over the item or the channels, eps, the scale
    "normalize defaults": ("Normalize", net({"data": (2, 5, 4, 3)}, "Normalize")),
    "normalize per position per channel": ("Normalize", net(
        {"data": (2, 5, 4, 3)}, "Normalize", "norm_param { across_spatial: false "
        f"channel_shared: false scale_filler {{ {UNIFORM} }} }}")),
    "normalize 2-axis eps": ("Normalize", net({"data": (3, 6)}, "Normalize",
                                              "norm_param { across_spatial: false eps: 0.5 }")),
    "normalize_bbox eps": ("NormalizeBBox", net({"data": (2, 3, 4, 4)}, "NormalizeBBox",
                                                "norm_param { eps: 3 }")),
    # Im2col: the columns of a convolution's windows (padding, stride, dilation, a window
    # reading zeros past the end)
    "im2col k3 s2 p1": ("Im2col", net({"data": (2, 3, 7, 6)}, "Im2col",
                                      "convolution_param { kernel_size: 3 stride: 2 pad: 1 }")),
    "im2col rectangular dilated": ("Im2col", net(
        {"data": (1, 2, 6, 9)}, "Im2col", "convolution_param { kernel_h: 2 kernel_w: 3 "
        "stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 2 dilation: 2 }")),
    "im2col window past the input": ("Im2col", net(
        {"data": (2, 2, 2, 3)}, "Im2col", "convolution_param { kernel_size: 3 stride: 2 }")),
    # SPP: the pyramid's levels as Caffe pads them (odd lengths), MAX and AVE, one level
    "spp max pyramid 3": ("SPP", net({"data": (2, 4, 9, 8)}, "SPP",
                                     "spp_param { pyramid_height: 3 }")),
    "spp ave pyramid 2 odd": ("SPP", net({"data": (1, 3, 7, 5)}, "SPP",
                                         "spp_param { pyramid_height: 2 pool: AVE }")),
    "spp one level": ("SPP", net({"data": (2, 3, 5, 6)}, "SPP",
                                 "spp_param { pyramid_height: 1 }")),
    # PriorBox, PriorBoxClustered: the boxes of the feature map's and the image's shapes
    "prior_box flip clip aspect ratios": ("PriorBox", net(
        FEAT_IMG, "PriorBox", f"prior_box_param {{ {PRIOR_SPECS['ssd']} }}")),
    "prior_box no flip step offset": ("PriorBox", net(
        FEAT_IMG, "PriorBox", f"prior_box_param {{ {PRIOR_SPECS['no_flip']} }}")),
    "prior_box step_h step_w": ("PriorBox", net(
        FEAT_IMG, "PriorBox", f"prior_box_param {{ {PRIOR_SPECS['steps']} }}")),
    "prior_box_clustered": ("PriorBoxClustered", net(
        FEAT_IMG, "PriorBoxClustered", "prior_box_param { width: 4 height: 6 width: 9 "
        "height: 5 clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 }")),
    "prior_box_clustered clip step": ("PriorBoxClustered", net(
        FEAT_IMG, "PriorBoxClustered", "prior_box_param { width: 30 height: 12 clip: true "
        "step: 9 offset: 0.25 variance: 0.2 }")),
    # DetectionOutput: decoded boxes, per-class NMS, the top keep_top_k of every image
    "detection_output shared keep_top_k": ("DetectionOutput", detection(
        (2, 80), (2, 80), (1, 2, 80), "num_classes: 4 share_location: true "
        "background_label_id: 0 code_type: CENTER_SIZE confidence_threshold: 0.2 "
        "nms_param { nms_threshold: 0.45 top_k: 30 } keep_top_k: 10")),
    "detection_output unshared corner": ("DetectionOutput", detection(
        (2, 320), (2, 80), (1, 2, 80), "num_classes: 4 share_location: false "
        "background_label_id: 2 code_type: CORNER confidence_threshold: 0.3 "
        "nms_param { nms_threshold: 0.3 } keep_top_k: 40")),
    "detection_output no background variance in target": ("DetectionOutput", detection(
        (2, 80), (2, 80), (1, 1, 80), "num_classes: 4 share_location: true "
        "background_label_id: 7 code_type: CENTER_SIZE confidence_threshold: 0.25 "
        "variance_encoded_in_target: true clip: true nms_param { nms_threshold: 0.4 "
        "top_k: 20 } keep_top_k: -1")),
    # Proposal: anchors, decoded deltas clipped to the image, NMS, one top or two
    "proposal two tops": ("Proposal", net(
        {"scores": (1, 12, 6, 9), "deltas": (1, 24, 6, 9), "im_info": (1, 3)}, "Proposal",
        "proposal_param { feat_stride: 8 base_size: 8 ratio: 0.5 ratio: 1 ratio: 2 scale: 2 "
        "scale: 4 pre_nms_topn: 60 post_nms_topn: 15 nms_thresh: 0.6 }", ("y", "y1"))),
    "proposal one top": ("Proposal", net(
        {"scores": (1, 4, 5, 6), "deltas": (1, 8, 5, 6), "im_info": (1, 3)}, "Proposal",
        "proposal_param { feat_stride: 16 base_size: 16 ratio: 0.5 ratio: 2 scale: 8 "
        "pre_nms_topn: 40 post_nms_topn: 10 nms_thresh: 0.3 }")),
    # ROIPooling, PSROIPooling: boxes of two images scaled to the maps, partly outside them
    "roi_pooling spatial_scale 0.25": ("ROIPooling", net(
        {"data": (2, 3, 13, 17), "rois": (10, 5)}, "ROIPooling",
        "roi_pooling_param { pooled_h: 3 pooled_w: 4 spatial_scale: 0.25 }")),
    "roi_pooling fine bins": ("ROIPooling", net(
        {"data": (2, 3, 13, 17), "rois": (10, 5)}, "ROIPooling",
        "roi_pooling_param { pooled_h: 7 pooled_w: 5 spatial_scale: 0.3 }")),
    "psroi_pooling group 3": ("PSROIPooling", net(
        {"data": (2, 18, 11, 13), "rois": (8, 5)}, "PSROIPooling",
        "psroi_pooling_param { spatial_scale: 0.5 output_dim: 2 group_size: 3 }")),
    # LSTM, RNN: sequences restarting mid-way, the carried states, a static input
    "lstm": ("LSTM", recurrent("LSTM")),
    "lstm expose_hidden static": ("LSTM", recurrent("LSTM", expose=True, static=True)),
    "rnn": ("RNN", recurrent("RNN")),
    "rnn expose_hidden static": ("RNN", recurrent("RNN", expose=True, static=True)),
    "lstm_unit": ("LSTMUnit", net({"c": (1, 3, 4), "g": (1, 3, 16), "cont": (1, 3)},
                                  "LSTMUnit", tops=("y", "h"))),
    # Embed, BatchReindex, Filter: rows picked by the data
    "embed": ("Embed", net({"data": (2, 3)}, "Embed", "embed_param { num_output: 5 "
                           f"input_dim: 7 {FILLERS} }}")),
    "embed no bias 3-axis": ("Embed", net({"data": (2, 2, 3)}, "Embed", "embed_param { "
                                          f"num_output: 4 input_dim: 3 bias_term: false "
                                          f"weight_filler {{ {UNIFORM} }} }}")),
    "batch_reindex repeats": ("BatchReindex", net({"data": (4, 3, 2), "idx": (6,)},
                                                  "BatchReindex")),
    "filter two bottoms": ("Filter", net({"data": (5, 3, 2), "b": (5, 4), "sel": (5, 1)},
                                         "Filter", tops=("y", "y1"))),
}

FEEDS = {
    **{case: SEQ for case in ("lstm", "lstm expose_hidden static", "rnn",
                              "rnn expose_hidden static")},
    "lstm_unit": drawn(cont=flags),
    **{case: DETECTIONS for case, (t, _) in CASES.items() if t == "DetectionOutput"},
    "proposal two tops": PROPOSALS, "proposal one top": PROPOSALS,
    "roi_pooling spatial_scale 0.25": drawn(rois=image_rois(
        68, 52, extra=[[1, 3, 4, 3, 4], [0, 60, 40, 90, 70], [1, -9, -7, 20, 9]])),
    "roi_pooling fine bins": drawn(rois=image_rois(68, 52)),
    "psroi_pooling group 3": drawn(rois=image_rois(26, 22, extra=[[0, 2, 2, 2, 2],
                                                                  [1, -4, -3, 30, 25]])),
    "embed": drawn(data=index(7)), "embed no bias 3-axis": drawn(data=index(3)),
    "batch_reindex repeats": drawn(idx=index(4)),
    "filter two bottoms": drawn(sel=flags),
}
