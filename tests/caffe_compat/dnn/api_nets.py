"""Small deploy nets for the cv2.dnn API rules (tests/caffe_compat/dnn/test_dnn_api.py), with
random weights drawn by :func:`tests.caffe_compat.dnn.nets.caffemodel_bytes`:

* :func:`naming`: a Convolution named apart from its top (``bw_conv1_1`` -> ``conv1_1``, as
  in the colorization net), a Convolution with two bottom / top pairs, a ConvolutionDepthwise,
  a Deconvolution, a Scale without bias, a Crop of a 1-channel map against the 3-channel
  input (``axis: 2``) and a last ``Silence`` layer;
* :func:`gray`: a 1-channel net (a 3-channel blob fed to it is an error naming the layer).
"""
from tests.caffe_compat.dnn.nets import caffemodel_bytes

NAMING = '''name: "naming"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "bw_conv1_1" type: "Convolution" bottom: "data" top: "conv1_1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu" type: "ReLU" bottom: "conv1_1" top: "conv1_1" }
layer { name: "pool" type: "Pooling" bottom: "conv1_1" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "dw" type: "ConvolutionDepthwise" bottom: "p" top: "dwt" convolution_param { num_output: 4 group: 4 kernel_size: 3 pad: 1 } }
layer { name: "sl" type: "Slice" bottom: "dwt" top: "pa" top: "pb" slice_param { axis: 1 } }
layer { name: "twin" type: "Convolution" bottom: "pa" bottom: "pb" top: "ta" top: "tb" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "ta" bottom: "tb" top: "s" }
layer { name: "dc" type: "Deconvolution" bottom: "s" top: "dctop" convolution_param { num_output: 2 kernel_size: 2 stride: 2 } }
layer { name: "sc" type: "Scale" bottom: "dctop" top: "sctop" scale_param { bias_term: false } }
layer { name: "one" type: "Convolution" bottom: "sctop" top: "onec" convolution_param { num_output: 1 kernel_size: 1 } }
layer { name: "cr" type: "Crop" bottom: "onec" bottom: "data" top: "crt" crop_param { axis: 2 offset: 0 } }
layer { name: "sil" type: "Silence" bottom: "p" }
'''
NAMING_BLOBS = [("bw_conv1_1", [(4, 3, 3, 3), (4,)], 1.0), ("dw", [(4, 1, 3, 3), (4,)], 1.0),
                ("twin", [(2, 2, 1, 1), (2,)], 1.0), ("dc", [(2, 2, 2, 2), (2,)], 1.0),
                ("sc", [(2,)], 1.0), ("one", [(1, 2, 1, 1), (1,)], 1.0)]

GRAY = '''name: "gray"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 2 kernel_size: 3 } }
'''
GRAY_BLOBS = [("conv1", [(2, 1, 3, 3), (2,)], 1.0)]

# a declared input that is a placeholder (OpenPose's deploy files: 1 x 3 x 1 x 1), too small for
# the layers: the shapes fed decide, in OpenCV 4; PLACEHOLDER_PY adds a registered Python layer
PLACEHOLDER = '''name: "placeholder"
input: "data" input_dim: 1 input_dim: 3 input_dim: 1 input_dim: 1
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 2 kernel_size: 7 stride: 2 } }
'''
PLACEHOLDER_PY = PLACEHOLDER + ('layer { name: "cut" type: "Python" bottom: "conv1" top: "cut" '
                                'python_param { module: "m" layer: "EdgeCut" } }\n')
PLACEHOLDER_BLOBS = [("conv1", [(2, 3, 7, 7), (2,)], 1.0)]
PLACEHOLDER_FED = (1, 3, 15, 15)


class EdgeCut:
    """A registered Python layer cutting a pixel off each side; it refuses a map of 2 pixels
    or fewer. Records what OpenCV passes it."""

    calls = []

    def __init__(self, params, blobs):
        EdgeCut.calls.append(("init",))

    def getMemoryShapes(self, inputs):
        EdgeCut.calls.append(("shapes", [tuple(int(d) for d in s) for s in inputs]))
        n, c, h, w = inputs[0]
        assert h > 2 and w > 2, "a map of 3 pixels or more is cut"
        return [[n, c, h - 2, w - 2]]

    def forward(self, inputs):
        EdgeCut.calls.append(("forward", [tuple(a.shape) for a in inputs]))
        return [inputs[0][:, :, 1:-1, 1:-1]]


# layers whose parameters a registered Python layer receives (repeated, bool, enum, float)
PARAMS = '''name: "params"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "data2" type: "Input" top: "d2" input_param { shape { dim: 1 dim: 3 dim: 6 dim: 6 } } }
layer { name: "cr" type: "Crop" bottom: "data" bottom: "d2" top: "crt" crop_param { axis: 2 offset: 1 offset: 2 } }
layer { name: "pp" type: "Pooling" bottom: "crt" top: "pp" pooling_param { pool: AVE kernel_size: 2 global_pooling: true } param { lr_mult: 0.5 } }
layer { name: "pw" type: "Power" bottom: "pp" top: "pw" power_param { scale: 0.1 shift: -2 } propagate_down: false }
'''
PARAMS_TYPES = ("Crop", "Pooling", "Power")


def _layer(name, type_, params="", bottoms=("data",), tops=None):
    return (f'layer {{ name: "{name}" type: "{type_}" ' + "".join(f'bottom: "{b}" ' for b in bottoms)
            + "".join(f'top: "{t}" ' for t in (tops or [name])) + params + " }\n")


_ROIS = _layer("rois", "Reshape", "reshape_param { shape { dim: -1 dim: 5 } }")
# one-layer nets whose getFLOPS OpenCV 4 counts (input 2 x 8 x 5 x 5; the blobs each needs)
FLOPS_INPUT = (2, 8, 5, 5)
FLOPS_CASES = {
    "conv_group": (_layer("c", "Convolution", "convolution_param { num_output: 4 kernel_size: 3 "
                                              "pad: 1 group: 2 }"), [("c", [(4, 4, 3, 3), (4,)])]),
    "deconv": (_layer("c", "Deconvolution", "convolution_param { num_output: 6 kernel_size: 3 "
                                            "stride: 2 }"), [("c", [(8, 6, 3, 3), (6,)])]),
    "ip": (_layer("c", "InnerProduct", "inner_product_param { num_output: 7 }"),
           [("c", [(7, 200), (7,)])]),
    "max_pool": (_layer("c", "Pooling", "pooling_param { pool: MAX kernel_size: 3 stride: 2 }"),
                 []),
    "ave_pool_hw": (_layer("c", "Pooling", "pooling_param { pool: AVE kernel_h: 2 kernel_w: 3 }"),
                    []),
    "global_pool": (_layer("c", "Pooling", "pooling_param { pool: AVE global_pooling: true }"), []),
    "lrn": (_layer("c", "LRN", "lrn_param { local_size: 5 }"), []),
    "lrn_within": (_layer("c", "LRN", "lrn_param { local_size: 3 norm_region: WITHIN_CHANNEL }"),
                   []),
    "mvn": (_layer("c", "MVN", "mvn_param { normalize_variance: false }"), []),
    "eltwise3": (_layer("r", "ReLU", tops=["r"]) + _layer("c", "Eltwise", "", ("data", "r", "r")),
                 []),
    "prior_box": (_layer("c", "PriorBox", "prior_box_param { min_size: 2 max_size: 4 "
                                          "aspect_ratio: 2 flip: true variance: 0.1 }",
                         ("data", "data")), []),
    "power": (_layer("c", "Power", "power_param { power: 2 }"), []),
    "activations": ("".join(_layer(t.lower(), t, bottoms=("data",), tops=[t.lower()])
                            for t in ("Sigmoid", "TanH", "AbsVal", "ELU", "BNLL", "Exp", "Log",
                                      "ReLU6", "Swish", "Mish", "Softmax", "Dropout", "Flatten")),
                    []),
    # OpenCV's Pooling count, a 1 x 1 kernel, for each ROI pooling; rois: the input's values
    "roi_pool": (_ROIS + _layer("c", "ROIPooling", "roi_pooling_param { pooled_h: 2 pooled_w: 2 "
                                                   "spatial_scale: 0.5 }", ("data", "rois")), []),
    "psroi_pool": (_ROIS + _layer("c", "PSROIPooling", "psroi_pooling_param { spatial_scale: 0.5 "
                                                       "output_dim: 2 group_size: 2 }",
                                  ("data", "rois")), []),
    # a two-input Scale (SE-BN-Inception's) counts its second input too
    "scale_two": (_layer("g", "Pooling", "pooling_param { pool: AVE global_pooling: true }")
                  + _layer("f", "Flatten", bottoms=("g",))
                  + _layer("c", "Scale", "scale_param { axis: 0 }", ("data", "f")), []),
    # Faster R-CNN's fork: OpenCV makes the layer object a Power
    "dropout_fork": (_layer("c", "Dropout", "dropout_param { dropout_ratio: 0.3 "
                                            "scale_train: false }"), []),
    "bn_scale": (_layer("bn", "BatchNorm") + _layer("sc", "Scale", "scale_param { bias_term: true }",
                                                    ("bn",)), [("bn", [(8,), (8,), (1,)]),
                                                               ("sc", [(8,), (8,)])]),
}


def flops_net(case):
    """(prototxt text, caffemodel bytes; b"" for a net without blobs) of one FLOPS_CASES
    entry."""
    body, blobs = FLOPS_CASES[case]
    text = ('name: "flops"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { '
            + " ".join(f"dim: {d}" for d in FLOPS_INPUT) + " } } }\n" + body)
    return text, (caffemodel_bytes(text, [(n, s, 1.0) for n, s in blobs], seed=13) if blobs
                  else b"")


def naming():
    """(prototxt text, caffemodel bytes) of the naming net."""
    return NAMING, caffemodel_bytes(NAMING, NAMING_BLOBS, seed=11)


def gray():
    return GRAY, caffemodel_bytes(GRAY, GRAY_BLOBS, seed=12)


class CentreCrop:
    """The Crop replacement of OpenCV's HED sample, as a cv2.dnn_registerLayer class: bottom 0
    cut to bottom 1's height and width around its centre. Records what OpenCV passes it."""

    calls = []

    def __init__(self, params, blobs):
        CentreCrop.calls.append(("init", dict(params), [tuple(b.shape) for b in blobs]))

    def getMemoryShapes(self, inputs):
        CentreCrop.calls.append(("shapes", [tuple(s) for s in inputs]))
        (n, c, h, w), (th, tw) = inputs[0], tuple(inputs[1][2:])
        self.y, self.x, self.h, self.w = (h - th) // 2, (w - tw) // 2, th, tw
        return [[n, c, th, tw]]

    def forward(self, inputs):
        CentreCrop.calls.append(("forward", [(str(a.dtype), tuple(a.shape)) for a in inputs]))
        return [inputs[0][:, :, self.y:self.y + self.h, self.x:self.x + self.w] * 2.0]
