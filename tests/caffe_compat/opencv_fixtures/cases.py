"""The per-layer cases compared with OpenCV 4: small nets with odd shapes and less common
settings. Each case: ``text`` (prototxt), ``inputs`` (name -> array, fed to both), ``outputs``
(blob names compared), ``kind`` per output ("dense", "detections" or "rois"), ``seed``."""
import numpy as np

from .nets import inputs_text, layer, random_inputs, rois

DO = "DetectionOutput"


def _case(inputs, body, outputs, kinds=None, seed=0, **extra):
    return dict(text='name: "case"\n' + inputs_text({k: v.shape for k, v in inputs.items()})
                + body, inputs=inputs, outputs=outputs,
                kinds=kinds or {o: "dense" for o in outputs}, seed=seed, **extra)


def normalize_case():
    x = random_inputs({"x": (2, 5, 7, 9), "v": (3, 6)}, 1)
    body = (layer("across", "Normalize", ["x"])
            + layer("spatial", "Normalize", ["x"], "norm_param { across_spatial: false "
                    "channel_shared: false }")
            + layer("spatial_eps", "Normalize", ["x"], "norm_param { across_spatial: false "
                    "eps: 0.25 }")
            + layer("bbox_name", "NormalizeBBox", ["x"], "norm_param { eps: 3 }")
            + layer("vector", "Normalize", ["v"], "norm_param { across_spatial: false "
                    "channel_shared: false }"))
    return _case(x, body, ["across", "spatial", "spatial_eps", "bbox_name", "vector"])


def permute_case():
    x = random_inputs({"x": (2, 3, 4, 5), "t": (3, 4, 2)}, 2)
    body = (layer("nhwc", "Permute", ["x"], "permute_param { order: 0 order: 2 order: 3 "
                  "order: 1 }")
            + layer("nwch", "Permute", ["x"], "permute_param { order: 0 order: 3 order: 1 "
                    "order: 2 }")
            + layer("batch_second", "Permute", ["x"], "permute_param { order: 1 order: 0 "
                    "order: 2 order: 3 }")
            + layer("identity", "Permute", ["x"], "permute_param { order: 0 order: 1 "
                    "order: 2 order: 3 }")
            + layer("three_axes", "Permute", ["t"], "permute_param { order: 2 order: 0 "
                    "order: 1 }"))
    return _case(x, body, ["nhwc", "nwch", "batch_second", "identity", "three_axes"])


PRIOR_SPECS = {
    "ssd": "min_size: 9 max_size: 21 aspect_ratio: 2 aspect_ratio: 3 flip: true clip: true "
           "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2",
    "no_flip": "min_size: 7.5 aspect_ratio: 2 aspect_ratio: 0.5 aspect_ratio: 2 flip: false "
               "clip: false variance: 0.1 step: 8 offset: 0.3",
    "steps": "min_size: 11 max_size: 15 aspect_ratio: 1.7 clip: false variance: 0.2 "
             "variance: 0.3 variance: 0.4 variance: 0.5 step_h: 6.5 step_w: 9",
    "explicit": "width: 5 width: 17.5 height: 9 height: 3 clip: true variance: 0.1 "
                "variance: 0.1 variance: 0.2 variance: 0.2",
    "offsets": "min_size: 6 max_size: 13 clip: false variance: 0.1 offset_h: 0.25 "
               "offset_h: 0.75 offset_w: 0.5 offset_w: 0.1",
}


def prior_box_case():
    x = random_inputs({"feat": (1, 4, 5, 7), "img": (1, 3, 41, 53)}, 3)
    body = "".join(layer(n, "PriorBox", ["feat", "img"], f"prior_box_param {{ {s} }}")
                   for n, s in PRIOR_SPECS.items())
    body += layer("clustered", "PriorBoxClustered", ["feat", "img"],
                  "prior_box_param { width: 4 height: 6 clip: false variance: 0.1 variance: 0.1 "
                  "variance: 0.2 variance: 0.2 }")
    return _case(x, body, list(PRIOR_SPECS) + ["clustered"])


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis, keepdims=True))
    return (e / e.sum(axis, keepdims=True)).astype(np.float32)


def detection_output_case():
    """Priors from a PriorBox layer, predictions fed as inputs; four DetectionOutput settings."""
    rng = np.random.RandomState(4)
    feat, img = (2, 3, 4, 5), (2, 3, 32, 40)
    per_cell = 4                      # min, max, ar 2, 1/2
    p = 4 * 5 * per_cell
    classes = 4
    x = {"feat": rng.uniform(-1, 1, feat).astype(np.float32),
         "img": rng.uniform(-1, 1, img).astype(np.float32),
         "loc": rng.normal(0, 0.4, (2, p * 4)).astype(np.float32),
         "loc_cls": rng.normal(0, 0.4, (2, p * classes * 4)).astype(np.float32),
         "conf": _softmax(rng.normal(0, 2.0, (2, p, classes))).reshape(2, -1),
         "conf1": _softmax(rng.normal(0, 2.0, (2, p, 2))).reshape(2, -1)}
    prior = ("prior_box_param { min_size: 8 max_size: 16 aspect_ratio: 2 flip: true clip: "
             "false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 }")
    body = layer("prior", "PriorBox", ["feat", "img"], prior)
    body += layer("prior_px", "PriorBox", ["feat", "img"], prior.replace(
        "clip: false", "clip: false step: 8"))
    common = "nms_param {{ nms_threshold: {nms} {topk} }} keep_top_k: {keep} "
    body += layer("center", DO, ["loc", "conf", "prior"], "detection_output_param { "
                  "num_classes: 4 share_location: true background_label_id: 0 code_type: "
                  "CENTER_SIZE confidence_threshold: 0.2 "
                  + common.format(nms=0.45, topk="top_k: 30", keep=25) + "}")
    body += layer("corner_per_class", DO, ["loc_cls", "conf", "prior"],
                  "detection_output_param { num_classes: 4 share_location: false "
                  "background_label_id: 2 code_type: CORNER confidence_threshold: 0.55 "
                  + common.format(nms=0.3, topk="", keep=40) + "}")
    body += layer("one_class_clip", DO, ["loc", "conf1", "prior"],
                  "detection_output_param { num_classes: 2 share_location: true "
                  "background_label_id: 0 code_type: CENTER_SIZE confidence_threshold: 0.05 "
                  "clip: 1 " + common.format(nms=0.5, topk="top_k: 100", keep=12) + "}")
    body += layer("no_background", DO, ["loc", "conf", "prior"],
                  "detection_output_param { num_classes: 4 share_location: true "
                  "background_label_id: 7 code_type: CENTER_SIZE confidence_threshold: 0.25 "
                  "variance_encoded_in_target: false "
                  + common.format(nms=0.4, topk="top_k: 20", keep=50) + "}")
    outs = ["center", "corner_per_class", "one_class_clip", "no_background"]
    return _case(x, body, outs, {o: "detections" for o in outs}, seed=4)


def roi_pooling_case():
    rng = np.random.RandomState(5)
    x = {"feat": rng.uniform(-1, 1, (2, 3, 13, 17)).astype(np.float32),
         "rois": rois(rng, 7, 2, 68, 52, extra=[[1, 3, 4, 3, 4], [0, 60, 40, 90, 70],
                                                [1, -9, -7, 20, 9]])}
    body = (layer("pool", "ROIPooling", ["feat", "rois"], "roi_pooling_param { pooled_h: 3 "
                  "pooled_w: 4 spatial_scale: 0.25 }")
            + layer("pool_fine", "ROIPooling", ["feat", "rois"], "roi_pooling_param { "
                    "pooled_h: 7 pooled_w: 5 spatial_scale: 0.3 }"))
    return _case(x, body, ["pool", "pool_fine"], seed=5)


def psroi_pooling_case():
    rng = np.random.RandomState(6)
    x = {"feat": rng.uniform(-1, 1, (2, 2 * 3 * 3, 11, 13)).astype(np.float32),
         "rois": rois(rng, 6, 2, 26, 22, extra=[[0, 2, 2, 2, 2], [1, -4, -3, 30, 25]])}
    body = layer("ps", "PSROIPooling", ["feat", "rois"], "psroi_pooling_param { "
                 "spatial_scale: 0.5 output_dim: 2 group_size: 3 }")
    return _case(x, body, ["ps"], seed=6)


def proposal_case():
    rng = np.random.RandomState(7)
    a = 6                                   # 3 ratios x 2 scales
    h, w = 6, 9
    logits = rng.normal(0, 1.5, (1, 2, a, h, w))
    e = np.exp(logits - logits.max(1, keepdims=True))
    prob = (e / e.sum(1, keepdims=True)).reshape(1, 2 * a, h, w).astype(np.float32)
    x = {"scores": prob,
         "deltas": rng.normal(0, 0.3, (1, 4 * a, h, w)).astype(np.float32),
         "im_info": np.array([[47, 71, 1.0]], np.float32)}
    spec = ("proposal_param { feat_stride: 8 base_size: 8 ratio: 0.5 ratio: 1 ratio: 2 "
            "scale: 2 scale: 4 pre_nms_topn: 60 post_nms_topn: 15 nms_thresh: 0.6 }")
    body = (layer("proposal", "Proposal", ["scores", "deltas", "im_info"], spec,
                  tops=["rois", "roi_scores"])
            + layer("proposal_one_top", "Proposal", ["scores", "deltas", "im_info"],
                    spec.replace("nms_thresh: 0.6", "nms_thresh: 0.3"), tops=["rois_b"]))
    return _case(x, body, ["rois", "roi_scores", "rois_b"],
                 {"rois": "rois", "roi_scores": "dense", "rois_b": "rois"}, seed=7)


def pooling_ceil_mode_case():
    x = random_inputs({"x": (1, 2, 12, 13)}, 8)
    body = (layer("max_floor_pad", "Pooling", ["x"], "pooling_param { pool: MAX kernel_size: 3 "
                  "stride: 2 pad: 1 ceil_mode: false }")
            + layer("max_floor", "Pooling", ["x"], "pooling_param { pool: MAX kernel_size: 2 "
                    "stride: 2 ceil_mode: false }")
            + layer("ave_floor_pad", "Pooling", ["x"], "pooling_param { pool: AVE "
                    "kernel_size: 3 stride: 2 pad: 1 ceil_mode: false }")
            + layer("max_ceil", "Pooling", ["x"], "pooling_param { pool: MAX kernel_size: 3 "
                    "stride: 2 pad: 1 ceil_mode: true }"))
    return _case(x, body, ["max_floor_pad", "max_floor", "ave_floor_pad", "max_ceil"])


def extra_types_case():
    """Types and fields that OpenCV 4's importer maps specially or reads as unknown fields."""
    rng = np.random.RandomState(9)
    x = {"x": rng.uniform(-8, 8, (2, 6, 5, 7)).astype(np.float32),
         "y": rng.uniform(-1, 1, (2, 6, 5, 7)).astype(np.float32)}
    body = (layer("relu6", "ReLU6", ["x"])
            + layer("mish", "Mish", ["x"])
            + layer("dw", "ConvolutionDepthwise", ["x"], "convolution_param { num_output: 6 "
                    "kernel_size: 3 pad: 1 stride: 2 group: 6 }")
            + layer("conv_two", "Convolution", ["x", "y"], "convolution_param { num_output: 4 "
                    "kernel_size: 2 }", tops=["conv_x", "conv_y"])
            + layer("shuffle", "ShuffleChannel", ["x"], "shuffle_channel_param { group: 3 }")
            + layer("zoom", "Interp", ["y"], "interp_param { zoom_factor: 3 }")
            + layer("sized", "Interp", ["y"], "interp_param { height: 8 width: 3 }")
            + layer("drop", "Dropout", ["y"], "dropout_param { dropout_ratio: 0.3 "
                    "scale_train: false }")
            + layer("bn", "BatchNorm", ["y"], "batch_norm_param { use_global_stats: true "
                    "scale_bias: true eps: 0.001 }"))
    outs = ["relu6", "mish", "dw", "conv_x", "conv_y", "shuffle", "zoom", "sized",
            "drop", "bn"]
    return _case(x, body, outs, seed=9)


def opencv_departures_case():
    """Settings where OpenCV 4 computes something else than the Caffe fork that defined them
    (the tests check OpenCV's output against the formula measured here, and ours against the
    fork's): Axpy (OpenCV: a * Y + X, batch-1 scale only) and Interp's shrink_factor/pad."""
    rng = np.random.RandomState(10)
    x = {"a": rng.uniform(-1, 1, (1, 3, 1, 1)).astype(np.float32),
         "x": rng.uniform(-1, 1, (1, 3, 4, 5)).astype(np.float32),
         "y": rng.uniform(-1, 1, (1, 3, 4, 5)).astype(np.float32)}
    body = (layer("axpy", "Axpy", ["a", "x", "y"])
            + layer("shrink_zoom", "Interp", ["x"], "interp_param { shrink_factor: 2 "
                    "zoom_factor: 3 }")
            + layer("cropped", "Interp", ["x"], "interp_param { pad_end: -1 zoom_factor: 2 }"))
    return _case(x, body, ["axpy", "shrink_zoom", "cropped"], seed=10)


LAYER_CASES = {
    "Normalize": normalize_case,
    "Permute": permute_case,
    "PriorBox": prior_box_case,
    "DetectionOutput": detection_output_case,
    "ROIPooling": roi_pooling_case,
    "PSROIPooling": psroi_pooling_case,
    "Proposal": proposal_case,
    "Pooling ceil_mode": pooling_ceil_mode_case,
    "Extra types": extra_types_case,
    "OpenCV departures": opencv_departures_case,
}
