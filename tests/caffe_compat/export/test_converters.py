"""Every converter against our own layers: small nets exported to ONNX, run in onnxruntime,
compared with our forward (batch sizes other than the deploy file's included), and against
OpenCV 4's committed outputs for the cases of ``opencv_fixtures``."""
import numpy as np
import pytest

from caffe_compat import Net, registered_types
from caffe_compat.export import converter_types
from tests.caffe_compat.opencv_fixtures import cases, compare, ssd_nets
from tests.caffe_compat.opencv_fixtures.nets import build, fill_weights, inputs_text, layer
from tests.caffe_compat.reference import scaled_error

from .helpers import ONNX_TOL, export_and_run

# Types without a converter on purpose: training-only layers (losses, Accuracy, data readers)
# and the ones an inference graph never contains.
NOT_EXPORTED = {"Accuracy", "CCCLoss", "ContrastiveLoss", "Data", "DummyData", "EuclideanLoss",
                "HDF5Data", "HDF5Output", "HingeLoss", "ImageData", "InfogainLoss", "Input",
                "MemoryData", "MultinomialLogisticLoss", "Python", "SigmoidCrossEntropyLoss",
                "Silence", "SoftmaxWithLoss", "WindowData"}


def test_every_inference_type_has_a_converter():
    missing = set(registered_types()) - set(converter_types()) - NOT_EXPORTED
    assert not missing, f"layer types without an ONNX converter: {sorted(missing)}"


def _check(net, tmp_path, inputs, outputs):
    theirs, ours = export_and_run(net, tmp_path, inputs, outputs)
    errors = {k: scaled_error(theirs[k], ours[k]) for k in outputs}
    assert max(errors.values()) <= ONNX_TOL, errors
    return errors


@pytest.mark.parametrize("name", sorted(cases.LAYER_CASES))
def test_opencv_cases_export(name, tmp_path):
    """The per-layer OpenCV cases: onnxruntime gives our outputs, and OpenCV 4's."""
    case = cases.LAYER_CASES[name]()
    net, _ = build(case)
    ref = compare.fixture(name)
    inputs = {k[3:]: v for k, v in ref.items() if k.startswith("in/")} or case["inputs"]
    theirs, ours = export_and_run(net, tmp_path, inputs, case["outputs"])
    for out, kind in case["kinds"].items():
        assert scaled_error(theirs[out], ours[out]) <= ONNX_TOL, out
        if name == "OpenCV departures":
            continue            # our layers follow the forks there, not OpenCV (by design)
        opencv = ref[f"out/{out}"]
        if kind == "dense":
            # OpenCV's float32 arithmetic in its own order: the dense tolerance of its fixtures
            assert scaled_error(theirs[out], opencv) <= compare.DENSE_TOL, out
        elif kind == "detections":
            assert compare.match_detections(theirs[out], opencv) <= compare.DET_TOL, out
        else:
            assert compare.match_rois(theirs[out], opencv, 1.0) <= compare.DET_TOL, out


@pytest.mark.parametrize("name", ["SSD face detector", "MobileNet-SSD", "Faster R-CNN",
                                  "R-FCN"])
def test_detection_nets_export(name, tmp_path):
    """Whole nets with DetectionOutput / Proposal / ROI pooling: onnxruntime on the photo gives
    OpenCV 4's detections (boxes in pixels compared relative to the 128-pixel width)."""
    case = ssd_nets.NETS[name]()
    net, _ = build(case)
    ref = compare.fixture(name)
    inputs = compare.photo_inputs(case, ref["photo"])
    theirs, ours = export_and_run(net, tmp_path, inputs, case["outputs"])
    scale = 128.0 if "rois" in case["kinds"] else 1.0
    for out, kind in case["kinds"].items():
        assert scaled_error(theirs[out], ours[out]) <= ONNX_TOL, out
        opencv = ref[f"out/{out}"]
        if kind == "dense":
            assert scaled_error(theirs[out], opencv) <= compare.DENSE_TOL, out
        elif kind == "detections":
            assert compare.match_detections(theirs[out], opencv) <= compare.DET_TOL, out
        else:
            assert compare.match_rois(theirs[out], opencv, scale) <= compare.DET_TOL, out


def test_detection_output_batch_of_three(tmp_path):
    """The batch axis is free through DetectionOutput: three images (the photo, mirrored,
    darkened) give our layer's rows, image ids 0..2, in (1, 1, 3 keep_top_k, 7)."""
    case = ssd_nets.NETS["SSD face detector"]()
    net, _ = build(case)
    x = compare.photo_inputs(case, compare.fixture("SSD face detector")["photo"])["data"]
    batch = {"data": np.concatenate([x, x[..., ::-1], x * np.float32(0.5)])}
    theirs, ours = export_and_run(net, tmp_path, batch, ["detection_out"])
    assert theirs["detection_out"].shape == ours["detection_out"].shape
    rows = compare.detection_rows(theirs["detection_out"])
    assert set(rows[:, 0]) == {0.0, 1.0, 2.0}
    assert scaled_error(theirs["detection_out"], ours["detection_out"]) <= ONNX_TOL


def test_nms_ties_follow_prior_order(tmp_path):
    """Equal confidences (a saturated softmax, or copies of one box) are visited in prior
    order, as OpenCV's stable sort does: the duplicates of a box are suppressed, never the
    first of them."""
    p = 6
    text = inputs_text({"loc": (1, p * 4), "conf": (1, p * 2), "prior": (1, 2, p * 4)}) + layer(
        "det", "DetectionOutput", ["loc", "conf", "prior"],
        "detection_output_param { num_classes: 2 share_location: true background_label_id: 0 "
        "nms_param { nms_threshold: 0.5 top_k: 4 } keep_top_k: 3 confidence_threshold: 0.1 "
        "code_type: CENTER_SIZE }")
    net = Net(text, phase="test")
    boxes = np.array([[0.1, 0.1, 0.4, 0.4]] * 3 + [[0.5, 0.5, 0.9, 0.9]] * 3, np.float32)
    prior = np.stack([boxes.reshape(-1), np.full(p * 4, 0.1, np.float32)])[None]
    conf = np.tile(np.array([[0.0, 0.75]], np.float32), (p, 1)).reshape(1, -1)
    inputs = {"loc": np.zeros((1, p * 4), np.float32), "conf": conf, "prior": prior}
    errors = _check(net, tmp_path, inputs, ["det"])
    assert errors["det"] == 0.0


# one small net per family of converters, with settings the public nets do not use
EXTRA = {
    "neurons": ({"x": (2, 3, 5, 4)}, [
        layer("abs", "AbsVal", ["x"]), layer("bnll", "BNLL", ["x"]),
        layer("elu", "ELU", ["x"], "elu_param { alpha: 0.7 }"),
        layer("exp", "Exp", ["x"], "exp_param { base: 2 scale: 0.5 shift: 0.25 }"),
        layer("power", "Power", ["abs"], "power_param { power: 1.5 scale: 2 shift: 0.5 }"),
        layer("power0", "Power", ["x"], "power_param { power: 2 scale: 0 shift: 3 }"),
        layer("log", "Log", ["abs"], "log_param { base: 10 scale: 2 shift: 1 }"),
        layer("thr", "Threshold", ["x"], "threshold_param { threshold: 0.1 }"),
        layer("clip", "Clip", ["x"], "clip_param { min: -0.3 max: 0.4 }"),
        layer("swish", "Swish", ["x"], "swish_param { beta: 1.5 }"),
        layer("sig", "Sigmoid", ["x"]), layer("tanh", "TanH", ["x"]),
        layer("leaky", "ReLU", ["x"], "relu_param { negative_slope: 0.1 }"),
        layer("prelu", "PReLU", ["x"]),
        layer("prelu1", "PReLU", ["x"], "prelu_param { channel_shared: true }"),
        layer("drop", "Dropout", ["x"], "dropout_param { dropout_ratio: 0.3 scale_train: false }"),
    ], ["abs", "bnll", "elu", "exp", "power", "power0", "log", "thr", "clip", "swish", "sig",
        "tanh", "leaky", "prelu", "prelu1", "drop"]),
    "normalization": ({"x": (2, 6, 7, 5)}, [
        layer("lrn_in", "LRN", ["x"], "lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 "
              "norm_region: WITHIN_CHANNEL }"),
        layer("lrn_across", "LRN", ["x"], "lrn_param { local_size: 5 alpha: 0.3 beta: 0.6 k: 2 }"),
        layer("mvn", "MVN", ["x"]),
        layer("mvn_all", "MVN", ["x"], "mvn_param { across_channels: true "
              "normalize_variance: false }"),
        layer("soft2", "Softmax", ["x"], "softmax_param { axis: 2 }"),
        layer("bn", "BatchNorm", ["x"], "batch_norm_param { use_global_stats: true eps: 0.01 }"),
        layer("scale_axis", "Scale", ["x"], "scale_param { axis: 2 num_axes: 2 bias_term: true }"),
        layer("bias", "Bias", ["x"], "bias_param { axis: 1 num_axes: 2 }"),
    ], ["lrn_in", "lrn_across", "mvn", "mvn_all", "soft2", "bn", "scale_axis", "bias"]),
    "arithmetic": ({"x": (2, 4, 6, 6), "y": (2, 4, 6, 6), "s": (2, 4)}, [
        layer("sum", "Eltwise", ["x", "y"], "eltwise_param { coeff: 0.5 coeff: -2 }"),
        layer("prod", "Eltwise", ["x", "y"], "eltwise_param { operation: PROD }"),
        layer("max", "Eltwise", ["x", "y", "x"], "eltwise_param { operation: MAX }"),
        layer("se", "Scale", ["x", "s"], "scale_param { axis: 0 }"),
        layer("add", "Bias", ["x", "s"], "bias_param { axis: 0 }"),
        layer("axpy", "Axpy", ["s", "x", "y"]),
        layer("red_sum", "Reduction", ["x"], "reduction_param { axis: 1 coeff: 2 }"),
        layer("red_asum", "Reduction", ["x"], "reduction_param { operation: ASUM axis: 2 }"),
        layer("red_sq", "Reduction", ["x"], "reduction_param { operation: SUMSQ axis: 1 }"),
        layer("red_mean", "Reduction", ["x"], "reduction_param { operation: MEAN axis: 1 }"),
    ], ["sum", "prod", "max", "se", "add", "axpy", "red_sum", "red_asum", "red_sq",
        "red_mean"]),
    "shapes": ({"x": (2, 6, 4, 5), "ref": (2, 6, 3, 2)}, [
        layer("flat", "Flatten", ["x"]),
        layer("flat2", "Flatten", ["x"], "flatten_param { axis: 2 }"),
        layer("flat_ins", "Flatten", ["x"], "flatten_param { axis: 2 end_axis: 1 }"),
        layer("reshape", "Reshape", ["x"], "reshape_param { shape { dim: 0 dim: 3 dim: -1 } }"),
        layer("reshape_mid", "Reshape", ["x"], "reshape_param { shape { dim: 2 dim: 2 } axis: 2 "
              "num_axes: 1 }"),
        layer("slice_a", "Slice", ["x"], "slice_param { axis: 1 slice_point: 1 slice_point: 4 }",
              tops=["s0", "s1", "s2"]),
        layer("concat", "Concat", ["s2", "s0"], "concat_param { axis: 1 }"),
        layer("crop", "Crop", ["x", "ref"], "crop_param { axis: 2 offset: 1 offset: 2 }"),
        layer("tile", "Tile", ["x"], "tile_param { axis: 2 tiles: 3 }"),
        layer("argmax", "ArgMax", ["x"], "argmax_param { top_k: 3 out_max_val: true }"),
        layer("argmax_axis", "ArgMax", ["x"], "argmax_param { axis: 1 top_k: 2 }"),
        layer("shuffle", "ShuffleChannel", ["x"], "shuffle_channel_param { group: 3 }"),
        layer("permute", "Permute", ["x"], "permute_param { order: 0 order: 3 order: 1 }"),
    ], ["flat", "flat2", "flat_ins", "reshape", "reshape_mid", "s1", "concat", "crop", "tile",
        "argmax", "argmax_axis", "shuffle", "permute"]),
    "convolutions": ({"x": (2, 4, 9, 8)}, [
        layer("deconv", "Deconvolution", ["x"], "convolution_param { num_output: 6 kernel_size: 3 "
              "stride: 2 pad: 1 group: 2 }"),
        layer("dil", "Convolution", ["x"], "convolution_param { num_output: 5 kernel_h: 3 "
              "kernel_w: 2 pad_h: 2 pad_w: 1 dilation: 2 stride_h: 2 stride_w: 1 }"),
        layer("ip_axis2", "InnerProduct", ["x"], "inner_product_param { num_output: 7 axis: 2 }"),
        layer("ip_t", "InnerProduct", ["x"], "inner_product_param { num_output: 3 "
              "transpose: true }"),
        layer("spp", "SPP", ["x"], "spp_param { pyramid_height: 3 }"),
        layer("ave_pad", "Pooling", ["x"], "pooling_param { pool: AVE kernel_size: 3 stride: 3 "
              "pad: 1 }"),
        layer("max_pad", "Pooling", ["x"], "pooling_param { pool: MAX kernel_size: 2 stride: 4 "
              "pad: 1 }"),
        layer("stoch", "Pooling", ["x"], "pooling_param { pool: STOCHASTIC kernel_size: 2 "
              "stride: 2 }"),
        layer("gmax", "Pooling", ["x"], "pooling_param { pool: MAX global_pooling: true }"),
        # windows longer than the input: one output row reading zeros past the end (Caffe's
        # truncating division), an LRN window over more channels than there are
        layer("wide_conv", "Convolution", ["x"], "convolution_param { num_output: 3 "
              "kernel_h: 10 kernel_w: 3 stride: 2 }"),
        layer("wide_lrn", "LRN", ["x"], "lrn_param { local_size: 7 alpha: 0.9 k: 2 }"),
    ], ["deconv", "dil", "ip_axis2", "ip_t", "spp", "ave_pad", "max_pad", "stoch", "gmax",
        "wide_conv", "wide_lrn"]),
    # forms only an export's graph gets: a count that holds the batch read at run time, the
    # batch inferred in a Reshape's untouched axes, a global STOCHASTIC pooling (of values
    # kept positive, where the ratio of sums is well conditioned)
    "free batch": ({"x": (2, 3, 5, 4)}, [
        layer("red_all_mean", "Reduction", ["x"], "reduction_param { operation: MEAN axis: 0 "
              "coeff: 3 }"),
        layer("red_all_sumsq", "Reduction", ["x"], "reduction_param { operation: SUMSQ }"),
        layer("lead", "Reshape", ["x"], "reshape_param { shape { dim: 1 } axis: 0 "
              "num_axes: 0 }"),
        layer("pos", "Power", ["x"], "power_param { shift: 2 }"),
        layer("gstoch", "Pooling", ["pos"], "pooling_param { pool: STOCHASTIC "
              "global_pooling: true }"),
    ], ["red_all_mean", "red_all_sumsq", "lead", "gstoch"]),
}


@pytest.mark.parametrize("name", sorted(EXTRA))
@pytest.mark.parametrize("batch", [2, 3])
def test_converter_families(name, batch, tmp_path):
    """Deploy files declare batch 2; the export also runs batch 3 as our net does."""
    shapes, layers, outputs = EXTRA[name]
    net = Net(inputs_text(shapes) + "".join(layers), phase="test")
    fill_weights(net, 3)
    rng = np.random.RandomState(7)
    inputs = {k: rng.uniform(0.05 if k == "s" else -1, 1, (batch,) + s[1:]).astype(np.float32)
              for k, s in shapes.items()}
    if name == "convolutions":
        inputs["x"] = np.abs(inputs["x"]) + np.float32(0.1)     # STOCHASTIC: positive values
    _check(net, tmp_path, inputs, outputs)
