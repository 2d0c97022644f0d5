"""Acceptance: caffemodels we write load in OpenCV 4.x ``cv2.dnn.readNetFromCaffe`` and give our
outputs within 1e-5 relative, for every layer type OpenCV supports.

Each case is a small net (an Input layer and one or more layers of the type, random non-trivial
parameters set through ``net.params`` with a fixed seed); ``net.save`` writes the weights and
``net.save_prototxt`` the inference definition, OpenCV reads both and is fed the same input.
Types OpenCV cannot run, and settings where OpenCV computes something else than Caffe, are
listed below with the reason instead of loosening the tolerance.

OpenCV 5 has no Caffe importer, so OpenCV 4's answers are committed fixtures
(fixtures/opencv_export/make_fixtures.py ran every case with OpenCV 4.14 and kept its outputs
and the SHA-256 of the files it read); each test checks that we still write those same files
and compares with the fixture, and, where OpenCV's own ``cv2.dnn.readNetFromCaffe`` is
installed, with a live run too.
"""
import hashlib
import json
import os
import pathlib

import numpy as np
import pytest
import torch

from caffe_compat import Net, registered_types
from caffe_compat.layers import registry
from tests.conftest import fixture_path, public_input

cv2 = pytest.importorskip("cv2")

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "opencv_export"
# OpenCV's own Caffe importer (OpenCV 4.x), not one installed by caffe_compat.dnn
LIVE = hasattr(cv2.dnn, "readNetFromCaffe") and \
    not (getattr(cv2.dnn.readNetFromCaffe, "__module__", None) or "").startswith("caffe_compat")


def _load_fixtures():
    if not (FIXTURES / "opencv4.json").exists():       # while make_fixtures.py writes them
        return {"opencv": None, "cases": {}, "refused": {}}, {}
    with open(FIXTURES / "opencv4.json") as f:
        meta = json.load(f)
    with np.load(FIXTURES / "opencv4.npz") as z:
        return meta, dict(z)


META, REF = _load_fixtures()

# error = max|ours - OpenCV| / max(1, max|ours|). Both sides are float32 implementations of the
# same formulas with different summation orders (OpenCV's own GEMM/conv kernels vs torch's):
# ~1e-7 of the output scale per layer, so 1e-5 leaves a wide margin. The max(1, .) keeps outputs
# near zero from turning rounding noise into a large relative figure.
OPENCV_TOL = 1e-5

# Types of ours that have no OpenCV counterpart, with the reason (checked by
# test_opencv_refuses below where the definition can be written out).
OPENCV_UNSUPPORTED = {
    "ArgMax": "importer refuses: no 'ArgMax' layer (OpenCV's 'Arg' is the ONNX operator)",
    "BatchReindex": "importer refuses: no such layer",
    "Bias": "importer refuses: no 'Bias' layer (Scale with bias_term covers the usual use)",
    "Clip": "importer refuses: no 'Clip' layer for Caffe models",
    "Embed": "importer refuses: no such layer",
    "Parameter": "importer refuses: no such layer",
    "Python": "importer refuses: a Python layer runs the user's Python code (no such layer)",
    "Reduction": "importer refuses: no 'Reduction' layer (OpenCV's 'Reduce' is the ONNX "
                 "operator with other parameters)",
    "SPP": "importer refuses: no such layer",
    "Threshold": "importer refuses: no such layer",
    "Tile": "importer refuses: OpenCV's Tile layer reads an ONNX 'repeats' list, not Caffe's "
            "tile_param axis/tiles ('repeats needs to be treated as parameter')",
    "HDF5Data": "importer refuses: a training data layer; the deploy definition feeds the net "
                "through an Input layer instead",
    "Data": "importer refuses: a training data layer (as HDF5Data)",
    "ImageData": "importer refuses: a training data layer (as HDF5Data)",
    "WindowData": "importer refuses: a training data layer (as HDF5Data)",
    "Accuracy": "not exported: inference_proto drops it (training/evaluation only; OpenCV "
                "has no such layer either)",
    "EuclideanLoss": "not exported: loss layer, dropped from the inference definition",
    "HingeLoss": "not exported: loss layer, dropped from the inference definition",
    "MultinomialLogisticLoss": "not exported: loss layer, dropped from the inference definition",
    "SigmoidCrossEntropyLoss": "not exported: loss layer, dropped from the inference definition",
    "SoftmaxWithLoss": "not exported: loss layer, dropped from the inference definition",
    "Silence": "not exported: has no output, dropped from the inference definition (OpenCV "
               "would accept it as a blank layer)",
    "Input": "not a layer in OpenCV: the importer turns it into the net's inputs; every case "
             "below goes through it",
    "Im2col": "importer refuses: no such layer",
    "Filter": "importer refuses: no such layer",
    "LSTMUnit": "importer refuses: no such layer",
    "RNN": "importer refuses: no 'RNN' layer for Caffe models",
    "LSTM": "importer refuses: OpenCV's LSTM layer wants its own five blobs (W_h, W_x, b, "
            "h_0, c_0), not Caffe's three (W_xc, b_c, W_hc), and fails its checks",
    "HDF5Output": "importer refuses: no such layer (it writes training outputs)",
    "DummyData": "importer refuses: a data layer; deploy definitions use an Input layer",
    "MemoryData": "importer refuses: a data layer; deploy definitions use an Input layer",
    "ContrastiveLoss": "not exported: loss layer, dropped from the inference definition",
    "InfogainLoss": "not exported: loss layer, dropped from the inference definition",
}

# Settings of supported types where OpenCV 4.x differs from Caffe (observed with OpenCV 4.14;
# each is shown by test_documented_difference). Our outputs follow Caffe; these settings must
# not be used in models meant for OpenCV.
OPENCV_DIFFERENCES = {
    "LRN k != 1": "OpenCV reads the constant from a field named 'bias', not Caffe's 'k', so it "
                  "always uses 1 + alpha/n * sum (Caffe: k + alpha/n * sum)",
    "MVN eps": "OpenCV divides by sqrt(var + eps), Caffe by sqrt(var) + eps; within "
               "OPENCV_TOL with the default eps 1e-9 (the MVN case), not with eps 0.1",
    "Log base/scale/shift": "OpenCV's Log is the plain natural logarithm: log_param is ignored",
    "Swish beta != 1": "OpenCV computes x * sigmoid(x); swish_param.beta is ignored",
    "InnerProduct transpose": "OpenCV ignores inner_product_param.transpose and reads the "
                              "(K, N) weight as if it were (N, K)",
    "Slice without slice_point": "OpenCV divides the axis into as many parts as there are "
                                 "consumed tops, so tops that are net outputs make it refuse the "
                                 "net; with slice_point (or every top consumed) it agrees",
}

# Pooling needs no entry: OpenCV's Caffe mode uses the same ceil rounding, the same rule that
# drops a last window starting in the padding, and the same AVE divisor (checked below).


def layer(name, type_, bottoms, params="", tops=None):
    tops = tops or [name]
    return (f'layer {{ name: "{name}" type: "{type_}" '
            + "".join(f'bottom: "{b}" ' for b in bottoms)
            + "".join(f'top: "{t}" ' for t in tops) + params + " }\n")


def conv(name, spec, bottom="data"):
    return layer(name, "Convolution", [bottom], f"convolution_param {{ {spec} }}")


X = {"data": (2, 3, 6, 7)}
POS = "positive"      # inputs in [0.1, 1.1] instead of [-1, 1]

# type -> (inputs, layers, options)
CASES = {
    "AbsVal": (X, layer("abs", "AbsVal", ["data"])),
    "BNLL": (X, layer("bnll", "BNLL", ["data"])),
    "BatchNorm": (X, layer("bn_global", "BatchNorm", ["data"],
                           "batch_norm_param { use_global_stats: true eps: 0.001 }")
                  + layer("bn_default", "BatchNorm", ["data"])),
    "Concat": ({"a": (2, 3, 6, 7), "b": (2, 2, 6, 7), "c": (2, 3, 4, 7)},
               layer("cat_c", "Concat", ["a", "b"])
               + layer("cat_h", "Concat", ["a", "c"], "concat_param { axis: 2 }")),
    "Convolution": (X, conv("conv_pad", "num_output: 4 kernel_size: 3 pad: 1")
                    + conv("conv_stride", "num_output: 4 kernel_size: 3 stride: 2")
                    + conv("conv_group", "num_output: 6 kernel_size: 3 group: 3")
                    + conv("conv_dilation", "num_output: 2 kernel_size: 2 dilation: 2")
                    + conv("conv_rect", "num_output: 2 kernel_h: 2 kernel_w: 4 pad_h: 1 pad_w: 0 "
                                        "stride_h: 1 stride_w: 2 bias_term: false")),
    "Crop": ({"a": (2, 3, 6, 7), "ref": (2, 3, 3, 4)},
             layer("crop", "Crop", ["a", "ref"], "crop_param { axis: 2 offset: 1 offset: 2 }")),
    "Deconvolution": (X, layer("deconv", "Deconvolution", ["data"],
                               "convolution_param { num_output: 4 kernel_size: 4 stride: 2 "
                               "pad: 1 }")
                      + layer("deconv_nobias", "Deconvolution", ["data"],
                              "convolution_param { num_output: 2 kernel_size: 3 "
                              "bias_term: false }")
                      + layer("deconv_group", "Deconvolution", ["data"],
                              "convolution_param { num_output: 3 kernel_size: 2 stride: 2 "
                              "group: 3 }")),
    "Dropout": (X, layer("drop", "Dropout", ["data"], "dropout_param { dropout_ratio: 0.3 }")),
    "ELU": (X, layer("elu", "ELU", ["data"], "elu_param { alpha: 0.7 }")),
    "Eltwise": ({"a": (2, 3, 6, 7), "b": (2, 3, 6, 7), "c": (2, 3, 6, 7)},
                layer("sum", "Eltwise", ["a", "b"],
                      "eltwise_param { operation: SUM coeff: 0.5 coeff: -1.5 }")
                + layer("prod", "Eltwise", ["a", "b", "c"], "eltwise_param { operation: PROD }")
                + layer("max", "Eltwise", ["a", "b"], "eltwise_param { operation: MAX }")),
    "Exp": (X, layer("exp", "Exp", ["data"], "exp_param { scale: 0.5 shift: 0.2 }")
            + layer("exp2", "Exp", ["data"], "exp_param { base: 2 }")),
    "Flatten": (X, layer("flat", "Flatten", ["data"])
                + layer("flat_hw", "Flatten", ["data"], "flatten_param { axis: 2 end_axis: 3 }")),
    "InnerProduct": (X, layer("ip", "InnerProduct", ["data"],
                              "inner_product_param { num_output: 5 }")
                     + layer("ip_nobias", "InnerProduct", ["data"],
                             "inner_product_param { num_output: 5 bias_term: false }")
                     + layer("ip_axis2", "InnerProduct", ["data"],
                             "inner_product_param { num_output: 5 axis: 2 }")),
    "LRN": ({"data": (2, 5, 6, 7)},
            layer("lrn_across", "LRN", ["data"],
                  "lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 }")
            + layer("lrn_within", "LRN", ["data"],
                    "lrn_param { local_size: 3 alpha: 0.3 beta: 0.6 k: 3 "
                    "norm_region: WITHIN_CHANNEL }")),    # WITHIN_CHANNEL ignores k in Caffe too
    "Log": (X, layer("log", "Log", ["data"]), POS),
    "MVN": (X, layer("mvn", "MVN", ["data"])
            + layer("mvn_across", "MVN", ["data"],
                    "mvn_param { across_channels: true normalize_variance: false }")),
    "PReLU": (X, layer("prelu", "PReLU", ["data"])
              + layer("prelu_shared", "PReLU", ["data"], "prelu_param { channel_shared: true }")),
    "Pooling": ({"data": (2, 3, 10, 13)},
                layer("max_pad", "Pooling", ["data"],
                      "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }")
                + layer("ave_pad", "Pooling", ["data"],       # 10x13 -> 4x5 by the pad rule
                        "pooling_param { pool: AVE kernel_size: 4 stride: 3 pad: 2 }")
                + layer("max_ceil", "Pooling", ["data"],
                        "pooling_param { pool: MAX kernel_size: 3 stride: 2 }")
                + layer("ave_ceil", "Pooling", ["data"],
                        "pooling_param { pool: AVE kernel_size: 3 stride: 2 }")
                + layer("global_ave", "Pooling", ["data"],
                        "pooling_param { pool: AVE global_pooling: true }")
                + layer("global_max", "Pooling", ["data"],
                        "pooling_param { pool: MAX global_pooling: true }")
                + layer("max_skip", "Pooling", ["data"],
                        "pooling_param { pool: MAX kernel_size: 2 stride: 3 }")
                + layer("ave_skip_pad", "Pooling", ["data"],
                        "pooling_param { pool: AVE kernel_size: 2 stride: 3 pad: 1 }")),
    "Power": (X, layer("pow_affine", "Power", ["data"], "power_param { scale: 0.5 shift: 0.3 }")
              + layer("pow_square", "Power", ["data"], "power_param { power: 2 scale: 1.5 }")
              + layer("pow_sqrt", "Power", ["data"],
                      "power_param { power: 0.5 scale: 0.5 shift: 1.2 }"), POS),
    "ReLU": (X, layer("relu", "ReLU", ["data"])
             + layer("leaky", "ReLU", ["data"], "relu_param { negative_slope: 0.1 }")),
    "Reshape": (X, layer("reshape", "Reshape", ["data"],
                         "reshape_param { shape { dim: 0 dim: -1 dim: 14 } }")
                + layer("reshape_axis", "Reshape", ["data"],
                        "reshape_param { shape { dim: 2 dim: 3 } axis: 2 num_axes: 1 }")),
    "Scale": ({"data": (2, 3, 6, 7), "s0": (2, 3), "s1": (3,)},
              layer("scale", "Scale", ["data"], "scale_param { bias_term: true }")
              + layer("scale_axis0", "Scale", ["data", "s0"], "scale_param { axis: 0 }")
              + layer("scale_by_blob", "Scale", ["data", "s1"])),
    "Sigmoid": (X, layer("sigmoid", "Sigmoid", ["data"])),
    "Slice": (X, layer("slice", "Slice", ["data"], "slice_param { axis: 1 slice_point: 1 "
                                                     "slice_point: 2 }", ["s0", "s1", "s2"])
              + layer("halves", "Slice", ["data"], "slice_param { axis: 2 }", ["h0", "h1"])
              + layer("h0_relu", "ReLU", ["h0"]) + layer("h1_abs", "AbsVal", ["h1"])),
    "Softmax": (X, layer("softmax", "Softmax", ["data"])
                + layer("softmax_h", "Softmax", ["data"], "softmax_param { axis: 2 }")),
    # OpenCV materialises only the Split tops that something consumes, so both are consumed
    "Split": (X, layer("split", "Split", ["data"], "", ["sa", "sb"])
              + layer("sa_relu", "ReLU", ["sa"]) + layer("sb_abs", "AbsVal", ["sb"])),
    "Swish": (X, layer("swish", "Swish", ["data"])),
    "TanH": (X, layer("tanh", "TanH", ["data"])),
}

# Cases showing OPENCV_DIFFERENCES (same harness; they must NOT agree).
DIFFERENCE_CASES = {
    "LRN k != 1": ({"data": (2, 5, 6, 7)}, layer("lrn", "LRN", ["data"],
                                                 "lrn_param { local_size: 3 alpha: 0.5 "
                                                 "beta: 0.75 k: 2 }")),
    "MVN eps": (X, layer("mvn", "MVN", ["data"], "mvn_param { eps: 0.1 }")),
    "Log base/scale/shift": (X, layer("log", "Log", ["data"], "log_param { base: 10 scale: 0.5 "
                                                              "shift: 2 }"), POS),
    "Swish beta != 1": (X, layer("swish", "Swish", ["data"], "swish_param { beta: 1.5 }")),
    "InnerProduct transpose": (X, layer("ip", "InnerProduct", ["data"],
                                        "inner_product_param { num_output: 5 transpose: true }")),
    "Slice without slice_point": (X, layer("halves", "Slice", ["data"], "slice_param { axis: 2 }",
                                           ["h0", "h1"])),
}


def net_text(inputs, body):
    tops = "".join(f'  top: "{n}"\n' for n in inputs)
    shapes = "".join("    shape { " + " ".join(f"dim: {d}" for d in s) + " }\n"
                     for s in inputs.values())
    return (f'name: "opencv_case"\nlayer {{\n  name: "input"\n  type: "Input"\n{tops}'
            f"  input_param {{\n{shapes}  }}\n}}\n{body}")


def opencv_error(ours, theirs):
    ours = np.asarray(ours, np.float64)
    return float(np.abs(ours - theirs).max() / max(1.0, np.abs(ours).max()))


def files_digest(proto, model):
    h = hashlib.sha256()
    for path in (proto, model):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def opencv_outputs(net, feed, proto, model):
    """OpenCV's (live) value of each output blob of ``net``, read from the saved files."""
    cv = cv2.dnn.readNetFromCaffe(proto, model)
    cv.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    cv.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    for name, value in feed.items():
        cv.setInput(value, name)
    producer = {}                    # output blob -> (last layer writing it, top index)
    for lp in net.inference_proto().layer:
        for j, top in enumerate(lp.top):
            producer[top] = (lp.name, j)
    names = sorted({producer[b][0] for b in net.outputs})
    got = cv.forwardAndRetrieve(names)
    return {blob: np.asarray(got[names.index(producer[blob][0])][producer[blob][1]])
            for blob in net.outputs}


def compare(ours, theirs):
    return {blob: opencv_error(value, np.asarray(theirs[blob], np.float64))
            if np.shape(theirs[blob]) == value.shape else np.inf for blob, value in ours.items()}


def export_and_compare(net, feed, folder, key=None):
    """Save ``net`` for OpenCV and compare our outputs on ``feed`` with OpenCV 4's: the
    fixture ``key`` (after checking that the saved files are the ones OpenCV read) and, where
    OpenCV's importer is installed, a live run; {output blob: worst error} (inf on a shape
    mismatch)."""
    with torch.no_grad():
        ours = {k: v.detach().cpu().numpy() for k, v in net.forward(**feed).items()}
    model, proto = os.path.join(folder, "net.caffemodel"), os.path.join(folder, "net.prototxt")
    net.save(model)
    net.save_prototxt(proto)
    runs = []
    if key is not None:
        fixture = META["cases"][key]
        assert files_digest(proto, model) == fixture["digest"], (
            f"{key}: the files we save differ from those OpenCV 4 read for the fixture; "
            "rerun tests/caffe_compat/fixtures/opencv_export/make_fixtures.py with OpenCV 4")
        runs.append({b: REF[f"{key}/{b}"] for b in fixture["blobs"]})
    if LIVE:
        runs.append(opencv_outputs(net, feed, proto, model))
    assert runs, "no OpenCV 4 reference: neither a fixture nor OpenCV's Caffe importer"
    errors = [compare(ours, theirs) for theirs in runs]
    return {b: max(e[b] for e in errors) for b in ours}


def run_case(inputs, body, option=None, seed=0, folder=".", key=None):
    return export_and_compare(*build_case(inputs, body, option, seed), folder, key)


def build_case(inputs, body, option=None, seed=0):
    """The case's net, with its random parameters, and its input feed."""
    rng = np.random.default_rng(seed)
    net = Net(net_text(inputs, body), phase="test")
    with torch.no_grad():
        for name, blobs in net.params.items():
            for p in blobs:
                p.copy_(torch.from_numpy(rng.uniform(-1, 1, tuple(p.shape)).astype(np.float32)))
            if net.layer(name).type_name == "BatchNorm":
                blobs[1].abs_().add_(0.5)         # a variance
                blobs[2].fill_(2.5)               # Caffe divides mean and variance by this
    feed = {}
    for name, shape in inputs.items():
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        feed[name] = np.abs(x) + np.float32(0.1) if option == POS else x
    return net, feed


def report(title, errors):
    worst = max(errors.values())
    print(f"\n{title}: max error {worst:.2g} over {len(errors)} output(s): "
          + ", ".join(f"{k} {v:.2g}" for k, v in sorted(errors.items())))
    return worst


# Types of OpenCV's Caffe fork: compared with OpenCV 4 through committed fixtures
# (tests/caffe_compat/opencv_fixtures), so that they need no OpenCV at test time.
OPENCV_FIXTURE_TYPES = {"Normalize", "NormalizeBBox", "Permute", "PriorBox", "PriorBoxClustered",
                        "DetectionOutput", "Proposal", "ROIPooling", "PSROIPooling", "ReLU6",
                        "Mish", "ConvolutionDepthwise", "ShuffleChannel", "Interp", "Axpy"}


def test_every_type_is_covered_or_listed():
    """Each of Caffe 1.0's 61 types (real Caffe's layer_type_list) is compared with OpenCV or
    listed as refused; the project's own types (CCCLoss) are not Caffe's and not OpenCV's."""
    caffe_types = json.loads(fixture_path("caffe-reference", "layer_types.json")
                             .read_text())["layer_types"]
    ours = {t for t in registered_types()
            if registry.layer_class(t).__module__.startswith("caffe_compat.")} \
        - OPENCV_FIXTURE_TYPES
    ours &= set(caffe_types)
    assert len(ours) == 61
    assert not set(CASES) & set(OPENCV_UNSUPPORTED)
    assert set(CASES) | set(OPENCV_UNSUPPORTED) == ours
    assert set(DIFFERENCE_CASES) == set(OPENCV_DIFFERENCES)


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_opencv_matches(type_name, tmp_path):
    worst = report(f"{type_name} (OpenCV {META['opencv']} fixture"
                   + (f", OpenCV {cv2.__version__} live)" if LIVE else ")"),
                   run_case(*CASES[type_name], folder=str(tmp_path), key=f"case/{type_name}"))
    assert worst <= OPENCV_TOL


REFUSED_DEFINITIONS = {
    "ArgMax": (X, layer("am", "ArgMax", ["data"], "argmax_param { axis: 1 }")),
    "BatchReindex": ({"data": (4, 3), "idx": (5,)}, layer("br", "BatchReindex", ["data", "idx"])),
    "Bias": (X, layer("bias", "Bias", ["data"])),
    "Clip": (X, layer("clip", "Clip", ["data"], "clip_param { min: -0.5 max: 0.6 }")),
    "Embed": ({"data": (4, 5)}, layer("embed", "Embed", ["data"],
                                      "embed_param { num_output: 3 input_dim: 6 }")),
    "Parameter": ({"data": (2, 3)}, layer("par", "Parameter", [],
                                          "parameter_param { shape { dim: 2 dim: 3 } }")
                  + layer("sum", "Eltwise", ["data", "par"])),
    "Reduction": (X, layer("red", "Reduction", ["data"], "reduction_param { axis: 1 }")),
    "SPP": (X, layer("spp", "SPP", ["data"], "spp_param { pyramid_height: 2 }")),
    "Threshold": (X, layer("thr", "Threshold", ["data"], "threshold_param { threshold: 0.2 }")),
    "Tile": (X, layer("tile", "Tile", ["data"], "tile_param { axis: 1 tiles: 2 }")),
    "HDF5Data": (X, layer("h5", "HDF5Data", [], 'hdf5_data_param { source: "x.txt" '
                                               "batch_size: 2 }", ["h5_data", "h5_label"])
                 + layer("relu", "ReLU", ["h5_data"])),
    "EuclideanLoss": ({"a": (2, 3), "b": (2, 3)}, layer("loss", "EuclideanLoss", ["a", "b"])),
    "Accuracy": ({"a": (2, 3), "b": (2,)}, layer("acc", "Accuracy", ["a", "b"])),
    "Im2col": (X, layer("i2c", "Im2col", ["data"], "convolution_param { kernel_size: 2 }")),
    "Filter": ({"a": (3, 2), "s": (3,)}, layer("f", "Filter", ["a", "s"])),
    "LSTMUnit": ({"c": (1, 2, 3), "x": (1, 2, 12), "cont": (1, 2)},
                 layer("unit", "LSTMUnit", ["c", "x", "cont"], "", ["c1", "h1"])),
    "RNN": ({"x": (4, 2, 3), "cont": (4, 2)},
            layer("rnn", "RNN", ["x", "cont"], "recurrent_param { num_output: 3 }")),
    "LSTM": ({"x": (4, 2, 3), "cont": (4, 2)},
             layer("lstm", "LSTM", ["x", "cont"], "recurrent_param { num_output: 3 }")),
    "HDF5Output": ({"a": (3, 2), "b": (3,)}, layer("out", "HDF5Output", ["a", "b"],
                                                   'hdf5_output_param { file_name: "o.h5" }',
                                                   [])),
    "DummyData": (X, layer("dd", "DummyData", [], "dummy_data_param { shape { dim: 2 } }")),
    "MemoryData": (X, layer("md", "MemoryData", [], "memory_data_param { batch_size: 1 "
                                                    "channels: 1 height: 1 width: 2 }",
                            ["md_data", "md_label"])),
}


@pytest.mark.parametrize("type_name", sorted(REFUSED_DEFINITIONS))
def test_opencv_refuses(type_name, tmp_path):
    """The listed types really cannot be run by OpenCV (the definition is written by hand: our
    inference definition leaves the loss and Accuracy layers out)."""
    inputs, body = REFUSED_DEFINITIONS[type_name]
    assert type_name in OPENCV_UNSUPPORTED
    print(f"\n{type_name} (OpenCV {META['opencv']}): {META['refused'][type_name]}")
    assert META["refused"][type_name]
    if not LIVE:
        return
    (tmp_path / "net.prototxt").write_text(net_text(inputs, body))
    with pytest.raises(cv2.error) as info:
        cv = cv2.dnn.readNetFromCaffe(str(tmp_path / "net.prototxt"))
        for name, shape in inputs.items():
            cv.setInput(np.zeros(shape, np.float32), name)
        cv.forward()
    print(f"{type_name} (live): {str(info.value).strip().splitlines()[-1]}")


@pytest.mark.parametrize("what", sorted(DIFFERENCE_CASES))
def test_documented_difference(what, tmp_path):
    if "refused" in META["cases"][f"difference/{what}"]:
        print(f"\n{what}: OpenCV refuses: {META['cases'][f'difference/{what}']['refused']}")
        return
    try:
        errors = run_case(*DIFFERENCE_CASES[what], folder=str(tmp_path),
                          key=f"difference/{what}")
        worst = report(f"{what} (OpenCV {cv2.__version__}, expected to differ)", errors)
    except cv2.error as e:
        print(f"\n{what}: OpenCV refuses: {str(e).strip().splitlines()[-1]}")
        return
    if worst <= OPENCV_TOL:
        pytest.skip(f"OpenCV {cv2.__version__} agrees with Caffe on '{what}' (error "
                    f"{worst:.2g}); update OPENCV_DIFFERENCES")
    assert worst > OPENCV_TOL


def test_inference_definition_has_no_training_layers(tmp_path):
    net = Net(public_input("original", "deploy", "model_1F_CNN+D.prototxt"), phase="test")
    proto = net.inference_proto()
    assert [lp.type for lp in proto.layer][:2] == ["Input", "Convolution"]
    assert not {"Silence", "EuclideanLoss", "Split"} & {lp.type for lp in proto.layer}
    assert list(proto.layer[0].top) == ["data"]         # 'label' only fed Silence
    assert all(not len(lp.include) and not lp.HasField("phase") for lp in proto.layer)


def test_real_cnnd_deploy_net(tmp_path):
    base = fixture_path("caffe-reference", "forward", "deploy_cnnd")
    net = Net(public_input("original", "deploy", "model_1F_CNN+D.prototxt"),
              base / "init.caffemodel", phase="test")
    with np.load(base / "input.npz") as inputs, np.load(base / "blobs.npz") as caffe:
        errors = export_and_compare(net, {"data": inputs["data"]}, str(tmp_path), "real/cnnd")
        theirs = caffe["fc5"]
    worst = report("CNN+D deploy 96x96 (Caffe's init.caffemodel)", errors)
    print(f"  fc5: ours {net.blobs['fc5'].data.item():.7g}, Caffe {theirs.item():.7g}")
    assert list(errors) == ["fc5"] and worst <= OPENCV_TOL


def test_real_sr_fcn_deploy_net(tmp_path):
    """SR-FCN deploy (96x96 -> 80x80) with the full-width weights Caffe wrote for
    forward/deploy_srcnn. The figure is also given relative to the output's own scale, which
    max(1, .) would not show for small outputs."""
    weights = fixture_path("caffe-reference", "forward", "deploy_srcnn", "init.caffemodel")
    net = Net(public_input("original", "deploy", "SRCNN_net.prototxt"), weights, phase="test")
    x = np.random.default_rng(11).random((1, 1, 96, 96), dtype=np.float32)
    errors = export_and_compare(net, {"data": x}, str(tmp_path), "real/srfcn")
    worst = report("SR-FCN deploy 96x96", errors)
    assert list(errors) == ["conv4"] and worst <= OPENCV_TOL
    # the same comparison against the output's own scale (max|conv4|, not 1)
    theirs = REF["real/srfcn/conv4"].astype(np.float64)
    ours = net.blobs["conv4"].data.detach().numpy().astype(np.float64)
    own_scale = np.abs(ours - theirs).max() / np.abs(ours).max()
    print(f"  conv4 max |value| {np.abs(ours).max():.3g}; error on that scale {own_scale:.2g}")
    assert own_scale <= OPENCV_TOL
