"""The conformance grid's cases and engines: one-layer nets at the edges of Caffe's rules, run
by every engine that claims the layer type, against the torch engine's forward (the
reference, itself checked against real Caffe 1.0 in tests/caffe_compat/layers/)."""
from __future__ import annotations

import numpy as np

from .grid_fed import prior_boxes, softmaxed

HEAD = 'name: "grid"\nlayer { name: "in" type: "Input" top: "data" input_param { shape { %s } } }\n'


def _shape(dims):
    return " ".join(f"dim: {d}" for d in dims)


def conv(params, shape, extra_bottoms=0, type_name="Convolution"):
    bottoms = 'bottom: "data" ' + "".join(f'bottom: "data{i}" ' for i in range(extra_bottoms))
    tops = 'top: "y" ' + "".join(f'top: "y{i}" ' for i in range(extra_bottoms))
    head = HEAD % _shape(shape)
    for i in range(extra_bottoms):
        head += (f'layer {{ name: "in{i}" type: "Input" top: "data{i}" '
                 f'input_param {{ shape {{ {_shape(shape)} }} }} }}\n')
    return (head + f'layer {{ name: "y" type: "{type_name}" {bottoms}{tops}'
            f'convolution_param {{ {params} weight_filler {{ type: "uniform" min: -0.5 '
            f'max: 0.5 }} bias_filler {{ type: "uniform" min: -0.5 max: 0.5 }} }} }}\n')


def pool(params, shape, tops=1):
    extra = 'top: "mask" ' if tops == 2 else ""
    return (HEAD % _shape(shape) + f'layer {{ name: "y" type: "Pooling" bottom: "data" '
            f'top: "y" {extra}pooling_param {{ {params} }} }}\n')


def inner_product(params, shape):
    return (HEAD % _shape(shape) + f'layer {{ name: "y" type: "InnerProduct" bottom: "data" '
            f'top: "y" inner_product_param {{ {params} weight_filler {{ type: "uniform" '
            f'min: -0.5 max: 0.5 }} bias_filler {{ type: "uniform" min: -0.5 max: 0.5 }} }} }}\n')


def lrn(params, shape):
    return (HEAD % _shape(shape) + 'layer { name: "y" type: "LRN" bottom: "data" top: "y" '
            f'lrn_param {{ {params} }} }}\n')


def v1(body, shape):
    """The same net in Caffe's V1 spelling (``layers {}``, enum types, ``input_dim``)."""
    dims = "".join(f"input_dim: {d}\n" for d in shape)
    return f'name: "grid"\ninput: "data"\n{dims}{body}'


# case -> (layer type, net text); the edge cases come from Caffe's rules: each names the rule
CASES = {
    # Convolution: C's truncating division, _h/_w forms, groups, dilation, shared weights
    "conv k3 s2 p1 odd": ("Convolution", conv("num_output: 4 kernel_size: 3 stride: 2 pad: 1",
                                              (2, 3, 13, 11))),
    "conv group dilation": ("Convolution", conv("num_output: 6 kernel_size: 3 group: 2 "
                                                "dilation: 2 pad: 2", (1, 4, 15, 12))),
    "conv rectangular _h/_w no bias": ("Convolution", conv(
        "num_output: 5 kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 "
        "bias_term: false", (1, 3, 10, 9))),
    "conv per-axis repeated": ("Convolution", conv(
        "num_output: 3 kernel_size: 3 kernel_size: 2 stride: 1 stride: 2 pad: 0 pad: 1",
        (1, 2, 9, 8))),
    "conv kernel past the padded input": ("Convolution", conv(
        "num_output: 4 kernel_size: 5 stride: 2", (2, 3, 4, 6))),
    "conv kernel past the padded input, dilated": ("Convolution", conv(
        "num_output: 2 kernel_size: 3 dilation: 3 stride: 4 pad: 1", (1, 2, 5, 5))),
    "conv 1x1 padded": ("Convolution", conv("num_output: 3 kernel_size: 1 pad: 1",
                                            (1, 4, 5, 5))),
    "conv 1x1 depthwise": ("Convolution", conv("num_output: 6 kernel_size: 1 group: 6",
                                               (2, 6, 5, 4))),
    "conv negative axis": ("Convolution", conv("num_output: 3 kernel_size: 2 axis: -3",
                                               (1, 2, 6, 6))),
    "parameter blob": ("Parameter", HEAD % _shape((2, 3, 4)) + (
        'layer { name: "p" type: "Parameter" top: "p" parameter_param { shape { dim: 2 '
        'dim: 3 dim: 4 } } }\nlayer { name: "y" type: "Eltwise" bottom: "data" bottom: "p" '
        'top: "y" }\n')),
    "conv depthwise under the forks' name": ("ConvolutionDepthwise", conv(
        "num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 6", (2, 6, 7, 6),
        type_name="ConvolutionDepthwise")),
    "conv two bottoms share weights": ("Convolution", conv("num_output: 3 kernel_size: 3",
                                                           (1, 2, 6, 5), extra_bottoms=1)),
    "conv V1 spelling": ("Convolution", v1(
        'layers { name: "y" type: CONVOLUTION bottom: "data" top: "y" convolution_param { '
        'num_output: 3 kernel_size: 3 stride: 2 weight_filler { type: "uniform" min: -0.5 '
        'max: 0.5 } } }\n', (1, 2, 9, 9))),
    "deconv k4 s2 p1 group": ("Deconvolution", conv(
        "num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 2", (1, 4, 7, 5),
        type_name="Deconvolution")),
    # InnerProduct: the axes joined from axis on, transposed weights, no bias
    "ip 4-axis bottom": ("InnerProduct", inner_product("num_output: 7", (3, 2, 4, 5))),
    "ip axis 2": ("InnerProduct", inner_product("num_output: 4 axis: 2", (2, 3, 5, 2))),
    "ip negative axis transposed": ("InnerProduct", inner_product(
        "num_output: 5 axis: -1 transpose: true", (2, 3, 6))),
    "ip no bias": ("InnerProduct", inner_product("num_output: 3 bias_term: false", (4, 9))),
    "ip V1 spelling": ("InnerProduct", v1(
        'layers { name: "y" type: INNER_PRODUCT bottom: "data" top: "y" inner_product_param { '
        'num_output: 3 weight_filler { type: "uniform" min: -0.5 max: 0.5 } } }\n',
        (2, 3, 4, 4))),
    # LRN: Caffe's float32 constants, the window clipped to the channels, within a channel
    "lrn across defaults": ("LRN", lrn("", (2, 7, 4, 5))),
    "lrn across wide window": ("LRN", lrn("local_size: 9 alpha: 0.3 beta: 0.6 k: 2",
                                          (1, 5, 3, 3))),
    "lrn across size 1": ("LRN", lrn("local_size: 1 alpha: 2 beta: 1.5", (1, 3, 4, 4))),
    "lrn within channel": ("LRN", lrn("local_size: 3 norm_region: WITHIN_CHANNEL alpha: 0.5",
                                      (1, 2, 6, 5))),
    "lrn V1 spelling": ("LRN", v1('layers { name: "y" type: LRN bottom: "data" top: "y" '
                                  'lrn_param { local_size: 3 alpha: 0.5 } }\n', (1, 4, 3, 3))),
    # Pooling: ceil rounding and its last-window rule, clipping, AVE's divisor, global
    "pool max ceil k3 s2 p1": ("Pooling", pool("pool: MAX kernel_size: 3 stride: 2 pad: 1",
                                               (1, 2, 12, 12))),
    "pool max ceil partial window": ("Pooling", pool("pool: MAX kernel_size: 3 stride: 2",
                                                     (1, 2, 10, 9))),
    "pool max window past the input": ("Pooling", pool(
        "pool: MAX kernel_size: 2 stride: 2 pad: 1", (1, 2, 5, 5))),
    "pool max empty windows": ("Pooling", pool("pool: MAX kernel_size: 3 stride: 3 pad: 2",
                                               (1, 2, 4, 7))),
    "pool max k2 s2 odd lengths": ("Pooling", pool("pool: MAX kernel_size: 2 stride: 2",
                                                   (1, 2, 7, 9))),
    "pool max stride past the window": ("Pooling", pool("pool: MAX kernel_size: 1 stride: 2",
                                                        (1, 2, 7, 6))),
    "pool max floor": ("Pooling", pool("pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR",
                                       (1, 2, 10, 9))),
    "pool ave ceil_mode false": ("Pooling", pool(
        "pool: AVE kernel_size: 3 stride: 2 ceil_mode: false", (1, 2, 10, 9))),
    "pool ave k3 s2 p1 odd": ("Pooling", pool("pool: AVE kernel_size: 3 stride: 2 pad: 1",
                                              (1, 2, 7, 9))),
    "pool ave divisor past the pad": ("Pooling", pool(
        "pool: AVE kernel_size: 3 stride: 2 pad: 1", (1, 2, 6, 6))),
    "pool ave rectangular": ("Pooling", pool(
        "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0",
        (1, 2, 8, 7))),
    "pool global ave": ("Pooling", pool("pool: AVE global_pooling: true", (2, 3, 5, 7))),
    "pool global max": ("Pooling", pool("pool: MAX global_pooling: true", (2, 3, 5, 7))),
    "pool stochastic test": ("Pooling", pool("pool: STOCHASTIC kernel_size: 2 stride: 2",
                                             (1, 2, 6, 6))),
    "pool max with mask top": ("Pooling", pool("pool: MAX kernel_size: 2 stride: 2",
                                               (1, 2, 6, 6), tops=2)),
    "pool V1 spelling": ("Pooling", v1(
        'layers { name: "y" type: POOLING bottom: "data" top: "y" pooling_param { pool: AVE '
        'kernel_size: 3 stride: 2 } }\n', (1, 2, 9, 9))),
}

# what Caffe refuses (its CHECKs): every engine gives the torch engine's error, word for word
REFUSED = {
    "conv group not dividing": conv("num_output: 4 kernel_size: 3 group: 3", (1, 4, 6, 6)),
    "conv kernel_h alone": conv("num_output: 2 kernel_h: 3", (1, 2, 6, 6)),
    "conv kernel_size and kernel_h": conv("num_output: 2 kernel_size: 3 kernel_h: 3 "
                                          "kernel_w: 3", (1, 2, 6, 6)),
    "conv no kernel": conv("num_output: 2", (1, 2, 6, 6)),
    "conv empty output": conv("num_output: 2 kernel_size: 9 stride: 2", (1, 2, 4, 4)),
    "conv zero stride": conv("num_output: 2 kernel_size: 3 stride: 0", (1, 2, 6, 6)),
    "ip axis out of range": inner_product("num_output: 2 axis: 4", (1, 2, 3, 3)),
    "ip no num_output": inner_product("", (1, 2, 3, 3)),
    "lrn even local_size": lrn("local_size: 4", (1, 4, 3, 3)),
    "lrn 3-axis bottom": lrn("", (1, 4, 3)),
    "pool global with a kernel": pool("pool: MAX global_pooling: true kernel_size: 2",
                                      (1, 2, 5, 5)),
    "pool global with pad": pool("pool: AVE global_pooling: true pad: 1", (1, 2, 5, 5)),
    "pool global with stride": pool("pool: MAX global_pooling: true stride: 2", (1, 2, 5, 5)),
    "pool pad not below the kernel": pool("pool: MAX kernel_size: 2 pad: 2", (1, 2, 6, 6)),
    "pool pad_h alone": pool("pool: MAX kernel_size: 3 pad_h: 1", (1, 2, 6, 6)),
    "pool no kernel": pool("pool: MAX stride: 2", (1, 2, 6, 6)),
    "pool padded stochastic": pool("pool: STOCHASTIC kernel_size: 3 pad: 1", (1, 2, 6, 6)),
    "pool mask top on AVE": pool("pool: AVE kernel_size: 2", (1, 2, 6, 6), tops=2),
}


def _rois(rng, count, size, scale):
    """``count`` ROIs (batch index 0, x1, y1, x2, y2) inside an image of ``size`` pixels whose
    feature map is ``scale`` of it."""
    lo = rng.uniform(0, size * 0.5, (count, 2))
    hi = lo + rng.uniform(size * 0.2, size * 0.5, (count, 2))
    return np.concatenate([np.zeros((count, 1)), lo, hi], axis=1).astype(np.float32)


# Layer types the examples of ``caffe-compat verify`` leave to their generic single bottom,
# which they do not take: {type: [(bottom shapes, fields, tops, feed(rng) or None)]}
EXTRA_EXAMPLES = {
    # this project's own loss (no Caffe type: verify has no example of it)
    "CCCLoss": [(((4, 5), (4, 5)), "", 1, None)],
    "Axpy": [(((2, 3, 1, 1), (2, 3, 4, 5), (2, 3, 4, 5)), "", 1, None)],
    "ConvolutionDepthwise": [(((2, 3, 6, 7),), "convolution_param { num_output: 3 "
                              "kernel_size: 3 pad: 1 group: 3 }", 1, None)],
    "Interp": [(((1, 2, 5, 6),), "interp_param { height: 9 width: 11 }", 1, None),
               (((1, 2, 5, 6),), "interp_param { zoom_factor: 2 }", 1, None)],
    "PriorBox": [(((1, 3, 4, 5), (1, 3, 32, 40)), "prior_box_param { min_size: 8 "
                  "max_size: 16 aspect_ratio: 2 flip: true clip: true variance: 0.1 "
                  "variance: 0.1 variance: 0.2 variance: 0.2 }", 1, None)],
    "PriorBoxClustered": [(((1, 3, 4, 5), (1, 3, 32, 40)), "prior_box_param { width: 4 "
                           "height: 6 width: 9 height: 5 clip: false variance: 0.1 "
                           "variance: 0.1 variance: 0.2 variance: 0.2 }", 1, None)],
    "ROIPooling": [(((1, 3, 8, 8), (3, 5)), "roi_pooling_param { pooled_h: 2 pooled_w: 3 "
                    "spatial_scale: 0.5 }", 1,
                    lambda rng: [rng.uniform(-1, 1, (1, 3, 8, 8)), _rois(rng, 3, 16, 0.5)])],
    "PSROIPooling": [(((1, 8, 8, 8), (3, 5)), "psroi_pooling_param { spatial_scale: 0.5 "
                      "output_dim: 2 group_size: 2 }", 1,
                      lambda rng: [rng.uniform(-1, 1, (1, 8, 8, 8)), _rois(rng, 3, 16, 0.5)])],
    "Proposal": [(((1, 4, 5, 6), (1, 8, 5, 6), (1, 3)), "proposal_param { feat_stride: 16 "
                  "base_size: 16 ratio: 0.5 ratio: 2 scale: 8 pre_nms_topn: 40 "
                  "post_nms_topn: 10 nms_thresh: 0.7 }", 1,
                  lambda rng: [softmaxed(rng, (1, 4, 5, 6)),
                               rng.uniform(-0.2, 0.2, (1, 8, 5, 6)),
                               np.array([[80, 96, 1]], np.float32)])],
    "DetectionOutput": [(((1, 40), (1, 30), (1, 2, 40)), "detection_output_param { "
                         "num_classes: 3 share_location: true background_label_id: 0 "
                         "nms_param { nms_threshold: 0.45 top_k: 20 } keep_top_k: 8 "
                         "confidence_threshold: 0.05 code_type: CENTER_SIZE }", 1,
                         lambda rng: [rng.uniform(-0.5, 0.5, (1, 40)),
                                      softmaxed(rng, (1, 10, 3), axis=2).reshape(1, 30),
                                      prior_boxes(rng, 10)])],
}

from .grid_affine import CASES as _AFFINE_CASES, REFUSED as _AFFINE_REFUSED  # noqa: E402

CASES.update(_AFFINE_CASES)
REFUSED.update(_AFFINE_REFUSED)

from .grid_neuron import CASES as _NEURON_CASES, REFUSED as _NEURON_REFUSED  # noqa: E402

CASES.update(_NEURON_CASES)
REFUSED.update(_NEURON_REFUSED)

from .grid_fed import CASES as _FED_CASES, FEEDS  # noqa: E402,F401

CASES.update(_FED_CASES)
