"""Small nets that hold every Caffe type the PyTorch export emits, in the geometries where
Caffe differs from torch's defaults (ceil pooling whose windows torch cannot give, AVE's
clipped divisor, LRN's two regions, Eltwise coeff, Crop offsets, Slice points, ...)."""
from tests.caffe_compat.opencv_fixtures.nets import inputs_text, layer

FORCE = "force_backward: true\n"


def conv_net():
    """Convolution family, pooling geometries, LRN, BatchNorm/Scale/Bias, neurons."""
    return FORCE + inputs_text({"data": (1, 3, 13, 11)}) + "".join([
        layer("conv1", "Convolution", ["data"],
              "convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 2 }"),
        layer("bn1", "BatchNorm", ["conv1"], "batch_norm_param { eps: 0.001 }", ["conv1"]),
        layer("sc1", "Scale", ["conv1"], "scale_param { bias_term: true }", ["conv1"]),
        layer("relu1", "ReLU", ["conv1"], "relu_param { negative_slope: 0.1 }", ["conv1"]),
        layer("gconv", "Convolution", ["conv1"],
              "convolution_param { num_output: 6 kernel_h: 3 kernel_w: 2 group: 3 "
              "dilation: 2 pad_h: 2 pad_w: 1 bias_term: false }"),
        layer("dw", "ConvolutionDepthwise", ["gconv"],
              "convolution_param { num_output: 6 kernel_size: 3 group: 6 pad: 1 }"),
        layer("bias", "Bias", ["dw"], "bias_param { axis: 1 num_axes: 1 }"),
        layer("lrn1", "LRN", ["bias"], "lrn_param { local_size: 5 alpha: 0.3 beta: 0.75 k: 2 }"),
        layer("lrn2", "LRN", ["lrn1"], "lrn_param { local_size: 3 alpha: 0.2 beta: 0.6 "
              "norm_region: WITHIN_CHANNEL }"),
        # pad 2 > kernel / 2: torch's pooling refuses it, the helper pads explicitly
        layer("pool_max", "Pooling", ["lrn2"],
              "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 2 }"),
        layer("pool_ave", "Pooling", ["lrn2"],
              "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }"),
        layer("pool_ave2", "Pooling", ["lrn2"],
              "pooling_param { pool: AVE kernel_h: 3 kernel_w: 2 stride: 2 pad_h: 2 pad_w: 0 }"),
        layer("pool_floor", "Pooling", ["lrn2"],
              "pooling_param { pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR }"),
        layer("deconv", "Deconvolution", ["pool_max"],
              "convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 2 }"),
        layer("sig", "Sigmoid", ["deconv"]),
        layer("tanh", "TanH", ["pool_ave"]),
        layer("pow", "Power", ["tanh"], "power_param { power: 2 scale: 0.5 shift: 1.5 }"),
        layer("gpool", "Pooling", ["pool_ave2"], "pooling_param { pool: AVE global_pooling: true }"),
        layer("gmax", "Pooling", ["pool_floor"], "pooling_param { pool: MAX global_pooling: true }"),
        layer("drop", "Dropout", ["pow"], "dropout_param { dropout_ratio: 0.3 }", ["pow"]),
        layer("ip_a", "InnerProduct", ["sig"], "inner_product_param { num_output: 5 }"),
        layer("ip_b", "InnerProduct", ["pow"], "inner_product_param { num_output: 5 "
              "transpose: true }"),
        layer("ip_c", "InnerProduct", ["gpool"],
              "inner_product_param { num_output: 5 bias_term: false }"),
        layer("ip_d", "InnerProduct", ["gmax"], "inner_product_param { num_output: 5 }"),
        layer("sum", "Eltwise", ["ip_a", "ip_b", "ip_c"],
              "eltwise_param { operation: SUM coeff: 0.5 coeff: -1 coeff: 2 }"),
        layer("prod", "Eltwise", ["ip_a", "ip_d"], "eltwise_param { operation: PROD }"),
        layer("max", "Eltwise", ["sum", "prod", "ip_c"], "eltwise_param { operation: MAX }"),
        layer("prob", "Softmax", ["max"]),
    ])


def shape_net():
    """Concat, Slice, Split (a blob used twice), Flatten, Reshape, Crop, Permute, Scale with a
    second bottom, SSD's Normalize and PriorBox, Interp."""
    return FORCE + inputs_text({"data": (1, 4, 10, 9), "ref": (1, 2, 6, 5)}) + "".join([
        layer("conv", "Convolution", ["data"],
              "convolution_param { num_output: 6 kernel_size: 1 }"),
        layer("slice", "Slice", ["conv"], "slice_param { axis: 1 slice_point: 1 slice_point: 4 }",
              ["s0", "s1", "s2"]),
        layer("cat", "Concat", ["s2", "s0", "conv"], "concat_param { axis: 1 }"),
        layer("crop", "Crop", ["cat", "ref"], "crop_param { axis: 2 offset: 3 offset: 1 }"),
        layer("perm", "Permute", ["crop"], "permute_param { order: 0 order: 2 order: 3 "
              "order: 1 }"),
        layer("flat", "Flatten", ["perm"], "flatten_param { axis: 1 end_axis: 2 }"),
        layer("resh", "Reshape", ["flat"],
              "reshape_param { shape { dim: 0 dim: -1 dim: 3 } }"),
        layer("gate", "InnerProduct", ["s1"], "inner_product_param { num_output: 3 }"),
        layer("scaled", "Scale", ["s1", "gate"], "scale_param { axis: 0 }"),
        layer("relu", "ReLU", ["resh"], tops=["resh"]),
        layer("flat2", "Flatten", ["scaled"]),
        layer("cat2", "Concat", ["flat2", "flat2"], "concat_param { axis: 1 }"),
        layer("norm", "Normalize", ["conv"], "norm_param { across_spatial: false "
              "channel_shared: false }"),
        layer("norm2", "Normalize", ["conv"]),
        layer("interp", "Interp", ["conv"], "interp_param { zoom_factor: 2 }"),
        layer("interp2", "Interp", ["conv"], "interp_param { pad_beg: -1 pad_end: -2 "
              "height: 5 width: 4 }"),
        layer("prior", "PriorBox", ["norm", "data"], "prior_box_param { min_size: 4 "
              "max_size: 8 aspect_ratio: 2 flip: true clip: true variance: 0.1 variance: 0.1 "
              "variance: 0.2 variance: 0.2 }"),
    ])


def recurrent_net(expose=False):
    """LSTM (optionally exposing its states) and RNN with a static input, over T = 4 steps of
    2 streams, and one LSTMUnit step under the first step's markers."""
    text = FORCE + inputs_text({"x": (4, 2, 3), "cont": (4, 2), "xs": (2, 5),
                                "c_prev": (1, 2, 6), "gates": (1, 2, 24)})
    states = ""
    lstm_bottoms, lstm_tops = ["x", "cont"], ["lstm"]
    if expose:
        text += inputs_text({"h0": (1, 2, 6), "c0": (1, 2, 6)})
        lstm_bottoms += ["h0", "c0"]
        lstm_tops += ["hT", "cT"]
        states = " expose_hidden: true"
    return text + "".join([
        layer("lstm", "LSTM", lstm_bottoms,
              "recurrent_param { num_output: 6" + states + " }", lstm_tops),
        layer("rnn", "RNN", ["x", "cont", "xs"], "recurrent_param { num_output: 5 }"),
        layer("ip", "InnerProduct", ["lstm"], "inner_product_param { num_output: 2 axis: 2 }"),
        layer("cont1", "Slice", ["cont"], "slice_param { axis: 0 slice_point: 1 }",
              ["cont_first", "cont_rest"]),
        layer("unit", "LSTMUnit", ["c_prev", "gates", "cont_first"], tops=["c", "h"]),
    ])


def elementwise_net():
    """The other element-wise and channel types, each with its parameters set."""
    return FORCE + inputs_text({"x": (1, 4, 5, 3)}) + "".join([
        layer("abs", "AbsVal", ["x"]),
        layer("bnll", "BNLL", ["x"]),
        layer("elu", "ELU", ["x"], "elu_param { alpha: 0.7 }"),
        layer("exp", "Exp", ["x"], "exp_param { base: 2 scale: 0.5 shift: 0.25 }"),
        layer("exp_e", "Exp", ["x"]),
        layer("log", "Log", ["abs"], "log_param { base: 10 scale: 2 shift: 1 }"),
        layer("thr", "Threshold", ["x"], "threshold_param { threshold: 0.1 }"),
        layer("clip", "Clip", ["x"], "clip_param { min: -0.3 max: 0.4 }"),
        layer("relu6", "ReLU6", ["exp"]),
        layer("swish", "Swish", ["x"], "swish_param { beta: 1.5 }"),
        layer("mish", "Mish", ["x"]),
        layer("prelu", "PReLU", ["x"]),
        layer("prelu1", "PReLU", ["x"], "prelu_param { channel_shared: true }"),
        layer("tile", "Tile", ["x"], "tile_param { axis: 2 tiles: 2 }"),
        layer("shuffle", "ShuffleChannel", ["x"], "shuffle_channel_param { group: 2 }"),
        layer("sum", "Eltwise", ["bnll", "elu", "exp_e", "log", "thr", "clip", "relu6",
                                 "swish", "mish", "prelu", "prelu1", "shuffle"]),
    ])


def misc_net():
    """Axpy, Parameter, Reduction (every operation), MVN and Embed."""
    return FORCE + inputs_text({"x": (2, 4, 3, 3), "a": (2, 4), "ids": (2, 3)}) + "".join([
        layer("axpy", "Axpy", ["a", "x", "x"]),
        layer("param", "Parameter", [], "parameter_param { shape { dim: 3 dim: 2 } }"),
        layer("r_sum", "Reduction", ["x"], "reduction_param { operation: SUM axis: 1 }"),
        layer("r_asum", "Reduction", ["x"], "reduction_param { operation: ASUM axis: 2 "
              "coeff: 0.5 }"),
        layer("r_sumsq", "Reduction", ["x"], "reduction_param { operation: SUMSQ axis: 1 }"),
        layer("r_mean", "Reduction", ["x"], "reduction_param { operation: MEAN axis: 1 }"),
        layer("mvn", "MVN", ["x"]),
        layer("mvn2", "MVN", ["x"], "mvn_param { across_channels: true normalize_variance: "
              "false }"),
        layer("embed", "Embed", ["ids"], "embed_param { num_output: 5 input_dim: 7 }"),
    ])


def data_net():
    """ArgMax (over an axis, per item with values), BatchReindex, Filter, Im2col (2-D dilated,
    2-D reading past the end, 1-D), SPP (MAX over three levels, AVE over two and one)."""
    return FORCE + inputs_text({"x": (1, 3, 7, 6), "index": (1,), "select": (1,)}) + "".join([
        layer("conv", "Convolution", ["x"],
              "convolution_param { num_output: 4 kernel_size: 3 pad: 1 }"),
        layer("am_axis", "ArgMax", ["conv"], "argmax_param { top_k: 2 axis: 1 }"),
        layer("am_item", "ArgMax", ["conv"], "argmax_param { top_k: 3 out_max_val: true }"),
        layer("am_val", "ArgMax", ["conv"], "argmax_param { top_k: 2 axis: 3 "
              "out_max_val: true }"),
        layer("reindex", "BatchReindex", ["conv", "index"]),
        layer("filter", "Filter", ["conv", "x", "select"], tops=["kept_conv", "kept_x"]),
        layer("cols", "Im2col", ["conv"],
              "convolution_param { kernel_size: 3 stride: 2 pad: 1 dilation: 2 }"),
        # a kernel of 9 rows over 7: one position, reading two rows of zeros past the end
        layer("cols_far", "Im2col", ["conv"],
              "convolution_param { kernel_h: 9 kernel_w: 2 stride_h: 5 stride_w: 3 }"),
        layer("flat", "Reshape", ["conv"], "reshape_param { shape { dim: 0 dim: 4 dim: -1 } }"),
        layer("cols_1d", "Im2col", ["flat"], "convolution_param { kernel_size: 4 stride: 3 "
              "pad: 2 }"),
        layer("spp", "SPP", ["conv"], "spp_param { pyramid_height: 3 pool: MAX }"),
        layer("spp_ave", "SPP", ["conv"], "spp_param { pyramid_height: 2 pool: AVE }"),
        layer("spp_one", "SPP", ["conv"], "spp_param { pyramid_height: 1 pool: AVE }"),
    ])


def data_net_inputs():
    """The index and selector bottoms of :func:`data_net` for a batch (random values would
    pick item 0 only and keep every item)."""
    import torch
    return {"index": lambda batch: torch.tensor([float((2 * i + 1) % batch)
                                                 for i in range(batch)]),
            "select": lambda batch: torch.tensor([float(i % 2 == 0) for i in range(batch)])}


def detection_net():
    """A small SSD: two heads with PriorBox, the confidences through a Softmax, and three
    DetectionOutput layers: shared locations with CENTER_SIZE boxes; per-class locations with
    CORNER_SIZE boxes in pixels, clipped to the image; CORNER boxes with the variances encoded
    in the targets and one target class (NMS stops at keep_top_k)."""
    text = FORCE + inputs_text({"data": (1, 3, 24, 20)})
    text += layer("conv1", "Convolution", ["data"],
                  "convolution_param { num_output: 8 kernel_size: 3 stride: 2 pad: 1 }")
    text += layer("conv2", "Convolution", ["conv1"],
                  "convolution_param { num_output: 8 kernel_size: 3 stride: 2 pad: 1 }")
    heads = (("conv1", 2, "min_size: 6 aspect_ratio: 2"), ("conv2", 3,
                                                             "min_size: 12 max_size: 20 "
                                                             "aspect_ratio: 2"))
    for src, boxes, spec in heads:
        for kind, num in (("loc", boxes * 4 * 3), ("conf", boxes * 3)):
            text += layer(f"{src}_{kind}", "Convolution", [src],
                          f"convolution_param {{ num_output: {num} kernel_size: 3 pad: 1 }}")
            text += layer(f"{src}_{kind}_perm", "Permute", [f"{src}_{kind}"],
                          "permute_param { order: 0 order: 2 order: 3 order: 1 }")
            text += layer(f"{src}_{kind}_flat", "Flatten", [f"{src}_{kind}_perm"])
        text += layer(f"{src}_prior", "PriorBox", [src, "data"],
                      f"prior_box_param {{ {spec} flip: false clip: false variance: 0.1 "
                      "variance: 0.1 variance: 0.2 variance: 0.2 }")
    for kind, axis in (("loc", 1), ("conf", 1), ("prior", 2)):
        suffix = "_prior" if kind == "prior" else f"_{kind}_flat"
        text += layer(f"mbox_{kind}", "Concat", [f"conv1{suffix}", f"conv2{suffix}"],
                      f"concat_param {{ axis: {axis} }}")
    text += layer("conf_reshape", "Reshape", ["mbox_conf"],
                  "reshape_param { shape { dim: 0 dim: -1 dim: 3 } }")
    text += layer("conf_softmax", "Softmax", ["conf_reshape"], "softmax_param { axis: 2 }")
    text += layer("conf_flat", "Flatten", ["conf_softmax"])
    # the location predictions as 3 classes x 4 offsets per prior; the first head reads the
    # first class's offsets only (share_location), through a Slice
    text += layer("loc_reshape", "Reshape", ["mbox_loc"],
                  "reshape_param { shape { dim: 0 dim: -1 dim: 12 } }")
    text += layer("loc_slice", "Slice", ["loc_reshape"], "slice_param { axis: 2 "
                  "slice_point: 4 }", ["loc_first", "loc_rest"])
    text += layer("loc_shared", "Flatten", ["loc_first"])
    text += layer("det_shared", "DetectionOutput", ["loc_shared", "conf_flat", "mbox_prior"],
                  "detection_output_param { num_classes: 3 share_location: true "
                  "background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 40 } "
                  "code_type: CENTER_SIZE keep_top_k: 12 confidence_threshold: 0.2 }")
    text += layer("det_classes", "DetectionOutput", ["mbox_loc", "conf_flat", "mbox_prior",
                                                     "data"],
                  "detection_output_param { num_classes: 3 share_location: false "
                  "background_label_id: 0 nms_param { nms_threshold: 0.3 } "
                  "code_type: CORNER_SIZE keep_top_k: 6 confidence_threshold: 0.25 "
                  "normalized_bbox: false clip: true }")
    text += layer("prior_boxes", "Slice", ["mbox_prior"], "slice_param { axis: 1 "
                  "slice_point: 1 }", ["prior_only", "prior_var"])
    text += layer("conf_slice", "Slice", ["conf_softmax"], "slice_param { axis: 2 "
                  "slice_point: 2 }", ["conf_two", "conf_third"])
    text += layer("conf_two_flat", "Flatten", ["conf_two"])
    text += layer("det_one", "DetectionOutput", ["loc_shared", "conf_two_flat", "prior_only"],
                  "detection_output_param { num_classes: 2 share_location: true "
                  "background_label_id: 1 nms_param { nms_threshold: 0.5 top_k: 30 } "
                  "code_type: CORNER keep_top_k: 5 variance_encoded_in_target: true }")
    return text
