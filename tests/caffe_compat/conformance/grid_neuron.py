"""The conformance grid's element-wise and shape layers: Caffe's neurons (Sigmoid ... Clip,
ReLU6), Reshape, Crop, Permute, Tile, Reduction, MVN, ShuffleChannel, at the edges of their
rules (:mod:`caffe_compat.rules`), in :mod:`.grid`'s format (merged into it; this module
does not import it)."""
from __future__ import annotations

HEAD = 'name: "grid"\nlayer { name: "in" type: "Input" top: "data" input_param { shape { %s } } }\n'


def _shape(dims):
    return " ".join(f"dim: {d}" for d in dims)


def one(type_name, params, shape, inplace=False):
    """A one-layer net of ``type_name`` on an input of ``shape`` (``params``: its parameter
    message text, e.g. ``power_param { power: 2 }``)."""
    top = "data" if inplace else "y"
    return (HEAD % _shape(shape) + f'layer {{ name: "y" type: "{type_name}" bottom: "data" '
            f'top: "{top}" {params} }}\n')


def crop(params, shape, ref):
    return (HEAD % _shape(shape) + f'layer {{ name: "ref" type: "Input" top: "ref" '
            f'input_param {{ shape {{ {_shape(ref)} }} }} }}\n'
            f'layer {{ name: "y" type: "Crop" bottom: "data" bottom: "ref" top: "y" '
            f'crop_param {{ {params} }} }}\n')


def two(type_name, params, shape, other):
    """``type_name`` over two inputs (``data`` of ``shape``, ``b`` of ``other``)."""
    return (HEAD % _shape(shape) + f'layer {{ name: "b" type: "Input" top: "b" '
            f'input_param {{ shape {{ {_shape(other)} }} }} }}\n'
            f'layer {{ name: "y" type: "{type_name}" bottom: "data" bottom: "b" top: "y" '
            f'{params} }}\n')


def positive(type_name, params, shape):
    """``type_name`` after an Exp (its input positive: Log's and Power's fractional powers)."""
    return (HEAD % _shape(shape) + 'layer { name: "pos" type: "Exp" bottom: "data" '
            'top: "pos" }\n' + f'layer {{ name: "y" type: "{type_name}" bottom: "pos" '
            f'top: "y" {params} }}\n')


def axpy(scale, shape):
    """Axpy of a scale ``a`` of shape ``scale`` and two inputs of ``shape``."""
    return (HEAD % _shape(scale) + f'layer {{ name: "x" type: "Input" top: "x" '
            f'input_param {{ shape {{ {_shape(shape)} }} }} }}\n'
            f'layer {{ name: "b" type: "Input" top: "b" '
            f'input_param {{ shape {{ {_shape(shape)} }} }} }}\n'
            'layer { name: "y" type: "Axpy" bottom: "data" bottom: "x" bottom: "b" top: "y" }\n')


def after_relu(type_name, params, shape):
    """``type_name`` after a ReLU (about half its input zeros: ties)."""
    return (HEAD % _shape(shape) + 'layer { name: "pos" type: "ReLU" bottom: "data" '
            'top: "pos" }\n' + f'layer {{ name: "y" type: "{type_name}" bottom: "pos" '
            f'top: "y" {params} }}\n')


def deconv(params, shape):
    return (HEAD % _shape(shape) + 'layer { name: "y" type: "Deconvolution" bottom: "data" '
            f'top: "y" convolution_param {{ {params} weight_filler {{ type: "uniform" '
            'min: -0.5 max: 0.5 } bias_filler { type: "uniform" min: -0.5 max: 0.5 } } }\n')


S = (2, 3, 4, 5)
CASES = {
    "deconv k3 s3 dilation no bias": ("Deconvolution", deconv(
        "num_output: 4 kernel_size: 3 stride: 3 dilation: 2 bias_term: false", (2, 3, 4, 5))),
    "deconv rectangular pad": ("Deconvolution", deconv(
        "num_output: 2 kernel_h: 4 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0",
        (1, 3, 5, 4))),
    "deconv 1x1 group": ("Deconvolution", deconv("num_output: 6 kernel_size: 1 group: 3",
                                                 (2, 6, 3, 3))),
    "sigmoid": ("Sigmoid", one("Sigmoid", "", S)),
    "sigmoid in place": ("Sigmoid", one("Sigmoid", "", S, inplace=True)),
    "tanh": ("TanH", one("TanH", "", S)),
    "absval": ("AbsVal", one("AbsVal", "", S)),
    "bnll": ("BNLL", one("BNLL", "", S)),
    "bnll large inputs": ("BNLL", positive("BNLL", "", (1, 2, 3, 3)).replace(
        'top: "pos" }', 'top: "pos" exp_param { scale: 4 } }')),
    "relu6": ("ReLU6", one("ReLU6", "", S)),
    "relu6 in place": ("ReLU6", one("ReLU6", "", S, inplace=True)),
    "elu default alpha": ("ELU", one("ELU", "", S)),
    "elu alpha 0.3": ("ELU", one("ELU", "elu_param { alpha: 0.3 }", S)),
    "elu in place": ("ELU", one("ELU", "elu_param { alpha: 2 }", S, inplace=True)),
    "power 1 scale shift": ("Power", one("Power", "power_param { scale: 2 shift: -1 }", S)),
    "power 2 shift": ("Power", one("Power", "power_param { power: 2 scale: 0.5 shift: 1 }", S)),
    "power 0.5": ("Power", positive("Power", "power_param { power: 0.5 }", S)),
    "power 0.5 shift": ("Power", positive("Power", "power_param { power: 0.5 scale: 3 "
                                                    "shift: 0.25 }", S)),
    "power 0 constant": ("Power", one("Power", "power_param { power: 0 shift: 3 }", S)),
    "power scale 0 constant": ("Power", one("Power", "power_param { power: 3 scale: 0 "
                                                     "shift: 2 }", S)),
    "power in place": ("Power", one("Power", "power_param { power: 2 }", S, inplace=True)),
    "exp base e": ("Exp", one("Exp", "", S)),
    "exp base e scale shift": ("Exp", one("Exp", "exp_param { scale: 0.5 shift: 1.5 }", S)),
    "exp base 2 scale shift": ("Exp", one("Exp", "exp_param { base: 2 scale: -1.5 shift: 0.5 }",
                                          S)),
    "exp in place": ("Exp", one("Exp", "exp_param { base: 3 }", S, inplace=True)),
    "log base e": ("Log", positive("Log", "", S)),
    "log base e scale shift": ("Log", positive("Log", "log_param { scale: 2 shift: 0.5 }", S)),
    "log shift after exp": ("Log", positive("Log", "log_param { shift: 0.5 }", S)),
    "log base 2 scale shift": ("Log", positive("Log", "log_param { base: 2 scale: 0.5 "
                                                      "shift: 1 }", S)),
    "threshold 0": ("Threshold", one("Threshold", "", S)),
    "threshold 0.5": ("Threshold", one("Threshold", "threshold_param { threshold: 0.5 }", S)),
    "threshold in place": ("Threshold", one("Threshold", "threshold_param { threshold: -0.2 }",
                                            S, inplace=True)),
    "clip": ("Clip", one("Clip", "clip_param { min: -0.5 max: 0.75 }", S)),
    "clip equal bounds": ("Clip", one("Clip", "clip_param { min: 0.25 max: 0.25 }", S)),
    "reshape 0 and -1": ("Reshape", one("Reshape", "reshape_param { shape { dim: 0 dim: -1 } }",
                                        S)),
    "reshape axis num_axes": ("Reshape", one("Reshape", "reshape_param { shape { dim: 2 dim: 2 "
                                                        "} axis: 2 num_axes: 1 }", S)),
    "reshape negative axis": ("Reshape", one("Reshape", "reshape_param { shape { dim: -1 "
                                                        "dim: 1 } axis: -2 }", S)),
    "reshape empty range insert": ("Reshape", one("Reshape", "reshape_param { shape { dim: 1 "
                                                             "} axis: 1 num_axes: 0 }", S)),
    "crop default axis one offset": ("Crop", crop("offset: 1", (1, 3, 8, 9), (1, 3, 5, 6))),
    "crop axis 1 offsets": ("Crop", crop("axis: 1 offset: 1 offset: 2 offset: 0",
                                         (2, 4, 7, 6), (2, 2, 4, 6))),
    "crop negative axis": ("Crop", crop("axis: -1", (1, 2, 4, 9), (1, 1, 1, 5))),
    "crop no offset": ("Crop", crop("", (1, 2, 6, 6), (1, 2, 3, 4))),
    "permute 0 2 3 1": ("Permute", one("Permute", "permute_param { order: 0 order: 2 order: 3 "
                                                  "order: 1 }", S)),
    "permute partial order": ("Permute", one("Permute", "permute_param { order: 2 }", S)),
    "permute identity": ("Permute", one("Permute", "permute_param { order: 0 order: 1 }", S)),
    "tile axis 1": ("Tile", one("Tile", "tile_param { tiles: 3 }", S)),
    "tile axis 0": ("Tile", one("Tile", "tile_param { axis: 0 tiles: 2 }", (2, 3, 4))),
    "tile last axis": ("Tile", one("Tile", "tile_param { axis: -1 tiles: 4 }", S)),
    "reduction sum all": ("Reduction", one("Reduction", "", S)),
    "reduction asum axis 1": ("Reduction", one("Reduction", "reduction_param { operation: ASUM "
                                                            "axis: 1 }", S)),
    "reduction sumsq axis 2 coeff": ("Reduction", one("Reduction", "reduction_param { "
                                                      "operation: SUMSQ axis: 2 coeff: -0.5 }",
                                                      S)),
    "reduction mean axis -1 coeff": ("Reduction", one("Reduction", "reduction_param { "
                                                      "operation: MEAN axis: -1 coeff: 3 }",
                                                      S)),
    "reduction mean all": ("Reduction", one("Reduction", "reduction_param { operation: MEAN }",
                                            S)),
    "mvn defaults": ("MVN", one("MVN", "", S)),
    "mvn across channels": ("MVN", one("MVN", "mvn_param { across_channels: true }", S)),
    "mvn mean only": ("MVN", one("MVN", "mvn_param { normalize_variance: false }", S)),
    "mvn eps 2-axis": ("MVN", one("MVN", "mvn_param { eps: 0.01 }", (3, 7))),
    "shuffle channel 3 groups": ("ShuffleChannel", one(
        "ShuffleChannel", "shuffle_channel_param { group: 3 }", (2, 6, 3, 2))),
    "shuffle channel default": ("ShuffleChannel", one("ShuffleChannel", "", S)),
    "relu": ("ReLU", one("ReLU", "", S)),
    "relu leaky in place": ("ReLU", one("ReLU", "relu_param { negative_slope: 0.1 }", S,
                                        inplace=True)),
    "softmax": ("Softmax", one("Softmax", "", S)),
    "softmax axis 2": ("Softmax", one("Softmax", "softmax_param { axis: 2 }", S)),
    "softmax axis -1": ("Softmax", one("Softmax", "softmax_param { axis: -1 }", S)),
    "dropout": ("Dropout", one("Dropout", "dropout_param { dropout_ratio: 0.3 }", S)),
    "dropout without scale_train": ("Dropout", one(
        "Dropout", "dropout_param { dropout_ratio: 0.25 scale_train: false }", S)),
    "flatten": ("Flatten", one("Flatten", "", S)),
    "flatten axis 2": ("Flatten", one("Flatten", "flatten_param { axis: 2 }", S)),
    "flatten axes 1 to 2": ("Flatten", one("Flatten", "flatten_param { axis: 1 end_axis: 2 }",
                                           S)),
    "flatten inserts an axis": ("Flatten", one("Flatten", "flatten_param { axis: 2 "
                                                          "end_axis: 1 }", S)),
    "concat channels": ("Concat", two("Concat", "", S, (2, 2, 4, 5))),
    "concat axis 2": ("Concat", two("Concat", "concat_param { axis: 2 }", S, (2, 3, 1, 5))),
    "concat legacy concat_dim 3": ("Concat", two("Concat", "concat_param { concat_dim: 3 }", S,
                                                 (2, 3, 4, 2))),
    "swish": ("Swish", one("Swish", "", S)),
    "swish beta 1.5": ("Swish", one("Swish", "swish_param { beta: 1.5 }", S)),
    "swish in place": ("Swish", one("Swish", "swish_param { beta: 0.5 }", S, inplace=True)),
    "mish": ("Mish", one("Mish", "", S)),
    "mish large inputs": ("Mish", positive("Mish", "", (1, 2, 3, 3)).replace(
        'top: "pos" }', 'top: "pos" exp_param { scale: 4 } }')),
    # ArgMax: Caffe's partial_sort puts the larger index first among equal values (the zeros
    # a ReLU leaves)
    "argmax default": ("ArgMax", one("ArgMax", "", S)),
    "argmax top 3 with values": ("ArgMax", one("ArgMax", "argmax_param { top_k: 3 "
                                                         "out_max_val: true }", S)),
    "argmax axis 1 top 2": ("ArgMax", one("ArgMax", "argmax_param { axis: 1 top_k: 2 }", S)),
    "argmax axis -1 values": ("ArgMax", one("ArgMax", "argmax_param { axis: -1 top_k: 2 "
                                                      "out_max_val: true }", S)),
    "argmax ties": ("ArgMax", after_relu("ArgMax", "argmax_param { top_k: 45 }", S)),
    "argmax ties on an axis": ("ArgMax", after_relu("ArgMax", "argmax_param { axis: 1 "
                                                              "top_k: 3 }", S)),
    "argmax 2-axis bottom": ("ArgMax", one("ArgMax", "argmax_param { top_k: 2 }", (3, 7))),
    # Interp (the PSPNet / DeepLab forks): the size rules and the crop
    "interp height width": ("Interp", one("Interp", "interp_param { height: 9 width: 11 }",
                                          (2, 3, 5, 6))),
    "interp zoom": ("Interp", one("Interp", "interp_param { zoom_factor: 3 }", (1, 2, 4, 7))),
    "interp shrink then zoom": ("Interp", one("Interp", "interp_param { shrink_factor: 2 "
                                                        "zoom_factor: 3 }", (1, 2, 9, 8))),
    "interp cropped": ("Interp", one("Interp", "interp_param { zoom_factor: 2 pad_beg: -1 "
                                               "pad_end: -2 }", (1, 3, 8, 9))),
    "interp to one row": ("Interp", one("Interp", "interp_param { height: 1 width: 5 }",
                                        (2, 2, 4, 4))),
    "interp size of a second bottom": ("Interp", two("Interp", "", (1, 2, 3, 4),
                                                     (1, 5, 7, 10))),
    "axpy n x c scale": ("Axpy", axpy((2, 3), (2, 3, 4, 5))),
    "axpy 4-axis scale": ("Axpy", axpy((2, 3, 1, 1), (2, 3, 4, 5))),
    "axpy 3-axis inputs": ("Axpy", axpy((1, 4), (1, 4, 6))),
}

REFUSED = {
    "exp base 0": one("Exp", "exp_param { base: 0 }", S),
    "exp negative base": one("Exp", "exp_param { base: -2 }", S),
    "log base 1": one("Log", "log_param { base: 1 }", S),
    "log base 0": one("Log", "log_param { base: 0 }", S),
    "clip min above max": one("Clip", "clip_param { min: 1 max: 0 }", S),
    "reshape two -1": one("Reshape", "reshape_param { shape { dim: -1 dim: -1 } }", S),
    "reshape count differs": one("Reshape", "reshape_param { shape { dim: 7 dim: 2 } }", S),
    "reshape not divisible": one("Reshape", "reshape_param { shape { dim: 7 dim: -1 } }", S),
    "reshape 0 past the bottom": one("Reshape", "reshape_param { shape { dim: 0 dim: 0 } "
                                                "axis: 3 }", S),
    "reshape num_axes past the end": one("Reshape", "reshape_param { shape { dim: -1 } "
                                                    "axis: 2 num_axes: 3 }", S),
    "crop offsets count": crop("offset: 1 offset: 1 offset: 1", (1, 2, 8, 8), (1, 2, 4, 4)),
    "crop window past the bottom": crop("offset: 3", (1, 2, 6, 6), (1, 2, 4, 4)),
    "permute order out of range": one("Permute", "permute_param { order: 4 }", S),
    "permute repeated order": one("Permute", "permute_param { order: 1 order: 1 }", S),
    "tile zero tiles": one("Tile", "tile_param { tiles: 0 }", S),
    "tile axis out of range": one("Tile", "tile_param { axis: 4 tiles: 2 }", S),
    "reduction axis out of range": one("Reduction", "reduction_param { axis: 4 }", S),
    "mvn 5-axis bottom": one("MVN", "", (1, 2, 2, 2, 2)),
    "shuffle channel group not dividing": one("ShuffleChannel",
                                              "shuffle_channel_param { group: 4 }", S),
    "argmax top_k 0": one("ArgMax", "argmax_param { top_k: 0 }", S),
    "argmax top_k past the axis": one("ArgMax", "argmax_param { axis: 1 top_k: 4 }", S),
    "argmax top_k past the item": one("ArgMax", "argmax_param { top_k: 61 }", S),
    "argmax axis out of range": one("ArgMax", "argmax_param { axis: 4 }", S),
    "interp positive pad": one("Interp", "interp_param { zoom_factor: 2 pad_beg: 1 }", S),
    "interp zoom 0": one("Interp", "interp_param { zoom_factor: 0 }", S),
    "interp no size": one("Interp", "", S),
    "interp 3-axis input": one("Interp", "interp_param { height: 3 width: 3 }", (2, 3, 4)),
    "concat axis and concat_dim": two("Concat", "concat_param { axis: 1 concat_dim: 1 }", S,
                                      (2, 2, 4, 5)),
    "concat_dim out of range": two("Concat", "concat_param { concat_dim: 4 }", S, S),
    "concat lengths differ off the axis": two("Concat", "", S, (2, 3, 4, 6)),
    "flatten end_axis before axis - 1": one("Flatten", "flatten_param { axis: 3 "
                                                        "end_axis: 1 }", S),
    "flatten axis out of range": one("Flatten", "flatten_param { axis: 4 }", S),
    "dropout ratio 1": one("Dropout", "dropout_param { dropout_ratio: 1 }", S),
    "dropout negative ratio": one("Dropout", "dropout_param { dropout_ratio: -0.1 }", S),
    "normalize 1-axis input": one("Normalize", "", (6,)),
    "softmax axis out of range": one("Softmax", "softmax_param { axis: 4 }", S),
    "softmax axis below the first": one("Softmax", "softmax_param { axis: -5 }", S),
    "axpy scale of another batch": axpy((1, 3), (2, 3, 4, 5)),
    "axpy scale with spatial axes": axpy((2, 3, 2, 1), (2, 3, 4, 5)),
}
