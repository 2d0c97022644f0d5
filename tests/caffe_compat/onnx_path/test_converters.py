"""Each torch-free converter against caffe_compat.Net's exact forward on one-layer nets, at
edge shapes (Caffe's ceil-mode pooling with its clipping and the AVE divisor at pads and
strides, odd sizes, groups, dilation, rectangular kernels, legacy input_dim)."""
import numpy as np
import pytest

from caffe_compat import onnx_path as lite

from .helpers import exact, lite_mode, scaled_error, seeded_model, torch_free

# float32 sums of at most a few hundred products, in another order than ours: each rounding is
# 6e-8 of the partial sum, and a few hundred of them stay below 1e-5 of the output's scale
LAYER_TOL = 1e-5


def _net(inputs, body):
    head = "name: \"t\"\n"
    for name, shape in inputs.items():
        dims = " ".join(f"dim: {d}" for d in shape)
        head += (f'layer {{ name: "{name}" type: "Input" top: "{name}" '
                 f'input_param {{ shape {{ {dims} }} }} }}\n')
    return head + body


def _conv(name, bottom, n, extra=""):
    return (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" '
            f'convolution_param {{ num_output: {n} {extra} }} }}\n')


CASES = {
    "conv_k3_s2_p1_odd": ({"data": (2, 3, 13, 11)}, _conv("y", "data", 4,
                                                          "kernel_size: 3 stride: 2 pad: 1")),
    "conv_group_dilation": ({"data": (1, 4, 15, 12)}, _conv(
        "y", "data", 6, "kernel_size: 3 group: 2 dilation: 2 pad: 2")),
    "conv_rect_no_bias": ({"data": (1, 3, 10, 9)}, _conv(
        "y", "data", 5, "kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 "
        "bias_term: false")),
    "deconv_k4_s2_p1_group": ({"data": (1, 4, 7, 5)}, 'layer { name: "y" type: "Deconvolution" '
                              'bottom: "data" top: "y" convolution_param { num_output: 6 '
                              'kernel_size: 4 stride: 2 pad: 1 group: 2 } }\n'),
    "deconv_no_bias_dilation": ({"data": (1, 3, 6, 6)}, 'layer { name: "y" type: '
                                '"Deconvolution" bottom: "data" top: "y" convolution_param { '
                                'num_output: 2 kernel_size: 3 stride: 3 dilation: 2 '
                                'bias_term: false } }\n'),
}


def _pool(name, method, params, shape):
    return ({"data": shape}, f'layer {{ name: "{name}" type: "Pooling" bottom: "data" top: '
                             f'"{name}" pooling_param {{ pool: {method} {params} }} }}\n')


for _key, _method, _params, _shape in (
        ("max_ceil_k3_s2_p1", "MAX", "kernel_size: 3 stride: 2 pad: 1", (1, 2, 12, 12)),
        ("max_ceil_partial", "MAX", "kernel_size: 3 stride: 2", (1, 2, 10, 9)),
        ("max_clip_rule", "MAX", "kernel_size: 2 stride: 2 pad: 1", (1, 2, 5, 5)),
        ("max_k3_s3_p2", "MAX", "kernel_size: 3 stride: 3 pad: 2", (1, 2, 4, 7)),
        ("max_floor", "MAX", "kernel_size: 3 stride: 2 round_mode: FLOOR", (1, 2, 10, 9)),
        ("ave_k3_s2_p1_odd", "AVE", "kernel_size: 3 stride: 2 pad: 1", (1, 2, 7, 9)),
        ("ave_ceil_partial", "AVE", "kernel_size: 3 stride: 2", (1, 2, 10, 10)),
        ("ave_clip_rule", "AVE", "kernel_size: 2 stride: 2 pad: 1", (1, 2, 5, 5)),
        ("ave_rect", "AVE", "kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 1",
         (1, 2, 8, 11)),
        ("ave_floor_pad", "AVE", "kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR",
         (1, 2, 8, 8)),
        ("global_ave", "AVE", "global_pooling: true", (2, 3, 7, 5)),
        ("global_max", "MAX", "global_pooling: true", (2, 3, 7, 5))):
    CASES["pool_" + _key] = _pool("y", _method, _params, _shape)

CASES.update({
    "relu_leaky": ({"data": (1, 3, 4, 5)}, 'layer { name: "y" type: "ReLU" bottom: "data" '
                   'top: "y" relu_param { negative_slope: 0.1 } }\n'),
    "relu_in_place": ({"data": (1, 3, 4, 5)}, _conv("c", "data", 4, "kernel_size: 1") +
                      'layer { name: "y" type: "ReLU" bottom: "c" top: "c" }\n'),
    "lrn_5": ({"data": (1, 8, 5, 6)}, 'layer { name: "y" type: "LRN" bottom: "data" top: "y" '
              'lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }\n'),
    "lrn_3_k2": ({"data": (1, 4, 3, 3)}, 'layer { name: "y" type: "LRN" bottom: "data" '
                 'top: "y" lrn_param { local_size: 3 alpha: 0.5 beta: 0.6 k: 2 } }\n'),
    "inner_product": ({"data": (2, 3, 4, 5)}, 'layer { name: "y" type: "InnerProduct" '
                      'bottom: "data" top: "y" inner_product_param { num_output: 7 } }\n'),
    "inner_product_axis2_transpose": ({"data": (2, 3, 4, 5)}, 'layer { name: "y" type: '
                                      '"InnerProduct" bottom: "data" top: "y" '
                                      'inner_product_param { num_output: 6 axis: 2 '
                                      'transpose: true bias_term: false } }\n'),
    "softmax": ({"data": (2, 5, 3, 4)}, 'layer { name: "y" type: "Softmax" bottom: "data" '
                'top: "y" }\n'),
    "softmax_last_axis": ({"data": (2, 5, 3, 4)}, 'layer { name: "y" type: "Softmax" bottom: '
                          '"data" top: "y" softmax_param { axis: -1 } }\n'),
    "concat_channels": ({"data": (1, 3, 6, 6)}, _conv("a", "data", 2, "kernel_size: 1") +
                        _conv("b", "data", 3, "kernel_size: 3 pad: 1") +
                        'layer { name: "y" type: "Concat" bottom: "a" bottom: "b" top: "y" }\n'),
    "concat_axis2": ({"data": (1, 3, 6, 6)}, _conv("a", "data", 2, "kernel_size: 1") +
                     _conv("b", "data", 2, "kernel_h: 1 kernel_w: 3") +
                     'layer { name: "y" type: "Concat" bottom: "a" bottom: "b" top: "y" '
                     'concat_param { axis: 3 } }\n'),
    "eltwise_sum_coeff": ({"data": (1, 3, 5, 5)}, _conv("a", "data", 2, "kernel_size: 1") +
                          _conv("b", "data", 2, "kernel_size: 3 pad: 1") +
                          'layer { name: "y" type: "Eltwise" bottom: "a" bottom: "b" top: "y" '
                          'eltwise_param { operation: SUM coeff: 0.5 coeff: -2 } }\n'),
    "eltwise_prod_max": ({"data": (1, 3, 5, 5)}, _conv("a", "data", 2, "kernel_size: 1") +
                         _conv("b", "data", 2, "kernel_size: 3 pad: 1") +
                         'layer { name: "p" type: "Eltwise" bottom: "a" bottom: "b" top: "p" '
                         'eltwise_param { operation: PROD } }\n'
                         'layer { name: "y" type: "Eltwise" bottom: "p" bottom: "a" top: "y" '
                         'eltwise_param { operation: MAX } }\n'),
    "dropout_split": ({"data": (1, 3, 5, 5)}, 'layer { name: "d" type: "Dropout" bottom: "data" '
                      'top: "d" dropout_param { dropout_ratio: 0.5 } }\n'
                      'layer { name: "s" type: "Split" bottom: "d" top: "s1" top: "s2" }\n' +
                      _conv("a", "s1", 2, "kernel_size: 1") + _conv("b", "s2", 2,
                                                                    "kernel_size: 1") +
                      'layer { name: "y" type: "Eltwise" bottom: "a" bottom: "b" top: "y" }\n'),
    "batchnorm_scale": ({"data": (2, 4, 5, 3)}, 'layer { name: "bn" type: "BatchNorm" '
                        'bottom: "data" top: "bn" batch_norm_param { eps: 0.001 } }\n'
                        'layer { name: "y" type: "Scale" bottom: "bn" top: "y" scale_param { '
                        'bias_term: true } }\n'),
    "batchnorm_scale_bias": ({"data": (2, 4, 5, 3)}, 'layer { name: "y" type: "BatchNorm" '
                             'bottom: "data" top: "y" batch_norm_param { eps: 0.001 '
                             'scale_bias: true } }\n'),
    "scale_two_bottoms": ({"data": (2, 3, 4, 5), "s": (2, 3)}, 'layer { name: "y" type: '
                          '"Scale" bottom: "data" bottom: "s" top: "y" scale_param { axis: 0 } '
                          '}\n'),
    "power": ({"data": (1, 3, 4, 4)}, 'layer { name: "y" type: "Power" bottom: "data" top: "y" '
              'power_param { power: 2 scale: 0.5 shift: 1 } }\n'),
    "crop_offsets": ({"data": (1, 3, 11, 9), "ref": (1, 2, 6, 5)}, 'layer { name: "y" type: '
                     '"Crop" bottom: "data" bottom: "ref" top: "y" crop_param { axis: 2 '
                     'offset: 3 offset: 2 } }\n'),
    "crop_axis1_single_offset": ({"data": (1, 5, 9, 9), "ref": (1, 3, 6, 6)}, 'layer { name: '
                                 '"y" type: "Crop" bottom: "data" bottom: "ref" top: "y" '
                                 'crop_param { axis: 1 offset: 1 } }\n'),
    "flatten_reshape": ({"data": (2, 3, 4, 5)}, 'layer { name: "f" type: "Flatten" bottom: '
                        '"data" top: "f" flatten_param { axis: 2 } }\n'
                        'layer { name: "y" type: "Reshape" bottom: "f" top: "y" reshape_param '
                        '{ shape { dim: 0 dim: -1 dim: 4 } } }\n'),
    "reshape_axis_num_axes": ({"data": (2, 6, 4, 5)}, 'layer { name: "y" type: "Reshape" '
                              'bottom: "data" top: "y" reshape_param { shape { dim: 0 dim: 2 '
                              'dim: -1 } axis: 1 num_axes: 2 } }\n'),
    "permute": ({"data": (2, 3, 4, 5)}, 'layer { name: "y" type: "Permute" bottom: "data" '
                'top: "y" permute_param { order: 0 order: 2 order: 3 order: 1 } }\n'),
    "normalize_per_position": ({"data": (2, 4, 3, 5)}, 'layer { name: "y" type: "Normalize" '
                               'bottom: "data" top: "y" norm_param { across_spatial: false '
                               'channel_shared: false } }\n'),
    "normalize_across": ({"data": (2, 4, 3, 5)}, 'layer { name: "y" type: "Normalize" bottom: '
                         '"data" top: "y" }\n'),
    "sigmoid_tanh_absval": ({"data": (1, 3, 4, 4)}, 'layer { name: "a" type: "Sigmoid" '
                            'bottom: "data" top: "a" }\nlayer { name: "b" type: "TanH" bottom: '
                            '"a" top: "b" }\nlayer { name: "y" type: "AbsVal" bottom: "b" '
                            'top: "y" }\n'),
    "im2col_k3_s2_p1": ({"data": (2, 3, 7, 6)}, 'layer { name: "y" type: "Im2col" bottom: '
                        '"data" top: "y" convolution_param { kernel_size: 3 stride: 2 pad: 1 '
                        '} }\n'),
    "im2col_axis2_past_the_end": ({"data": (2, 3, 2, 5, 4)}, 'layer { name: "y" type: '
                                  '"Im2col" bottom: "data" top: "y" convolution_param { '
                                  'kernel_size: 2 kernel_size: 3 stride: 2 pad: 1 axis: 2 '
                                  'dilation: 2 } }\n'),
    "spp_max_3": ({"data": (2, 3, 9, 8)}, 'layer { name: "y" type: "SPP" bottom: "data" '
                  'top: "y" spp_param { pyramid_height: 3 } }\n'),
    "spp_ave_one_level": ({"data": (2, 3, 7, 10)}, 'layer { name: "y" type: "SPP" bottom: '
                          '"data" top: "y" spp_param { pyramid_height: 1 pool: AVE } }\n'),
})


def _recurrent(type_, bottoms, tops, hidden):
    return (f'layer {{ name: "y" type: "{type_}" {bottoms} {tops} recurrent_param {{ '
            f'num_output: {hidden} expose_hidden: true weight_filler {{ type: "uniform" '
            'min: -0.5 max: 0.5 } bias_filler { type: "uniform" min: -0.2 max: 0.2 } } }\n')


def _normal(rng, *shape):
    return rng.normal(0, 1, shape).astype(np.float32)


# layers fed other values than normal draws (indices, sequence markers: cont 0 restarts a
# sequence), all of whose tops are compared: {case: (input shapes, layer "y", feed(rng), tops)}
FED = {
    "embed": ({"data": (2, 5)}, 'layer { name: "y" type: "Embed" bottom: "data" top: "y" '
              'embed_param { num_output: 4 input_dim: 7 } }\n',
              lambda rng: {"data": rng.integers(0, 7, (2, 5)) + np.float32(0.7)}, ["y"]),
    "batch_reindex": ({"data": (5, 3, 2), "index": (6,)}, 'layer { name: "y" type: '
                      '"BatchReindex" bottom: "data" bottom: "index" top: "y" }\n',
                      lambda rng: {"data": _normal(rng, 5, 3, 2),
                                   "index": np.array([4, 0, 0, 2, 3.5, 1], np.float32)}, ["y"]),
    "lstm_unit": ({"c": (1, 3, 4), "g": (1, 3, 16), "cont": (1, 3)}, 'layer { name: "y" type: '
                  '"LSTMUnit" bottom: "c" bottom: "g" bottom: "cont" top: "c1" top: "h1" }\n',
                  lambda rng: {"c": _normal(rng, 1, 3, 4), "g": 2 * _normal(rng, 1, 3, 16),
                               "cont": np.array([[1, 0, 0.5]], np.float32)}, ["c1", "h1"]),
    "lstm_static_exposed": (
        {"x": (4, 2, 3), "cont": (4, 2), "xs": (2, 5), "h0": (1, 2, 6), "c0": (1, 2, 6)},
        _recurrent("LSTM", 'bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" bottom: "c0"',
                   'top: "out" top: "hT" top: "cT"', 6),
        lambda rng: {"x": _normal(rng, 4, 2, 3), "xs": _normal(rng, 2, 5),
                     "h0": _normal(rng, 1, 2, 6), "c0": _normal(rng, 1, 2, 6),
                     "cont": np.array([[0, 0], [1, 1], [1, 0], [1, 1]], np.float32)},
        ["out", "hT", "cT"]),
    "rnn_exposed": (
        {"x": (3, 2, 2, 2), "cont": (3, 2), "h0": (1, 2, 5)},
        _recurrent("RNN", 'bottom: "x" bottom: "cont" bottom: "h0"', 'top: "out" top: "hT"', 5),
        lambda rng: {"x": _normal(rng, 3, 2, 2, 2), "h0": _normal(rng, 1, 2, 5),
                     "cont": np.array([[0, 1], [1, 0], [1, 1]], np.float32)}, ["out", "hT"]),
}


@pytest.mark.parametrize("runtime", ["onnxruntime", "opencv", "openvino"])
@pytest.mark.parametrize("case", sorted(FED))
def test_fed_converter_matches_our_forward(case, runtime, tmp_path, monkeypatch):
    """On each runtime of the torch-free path. LAYER_TOL: short float32 sums as above; the
    recurrent layers' float32 sigmoid and tanh against Caffe's double-rounded ones, through
    four steps, stay within a few 1e-7 of the scale."""
    from caffe_compat import dnn
    from caffe_compat.onnx_path.runtime import ENV_RUNTIME
    pytest.importorskip("cv2" if runtime == "opencv" else runtime)
    if runtime == "opencv" and not _opencv5():
        pytest.skip("OpenCV 4 keeps its own Caffe importer")
    monkeypatch.setenv(ENV_RUNTIME, runtime)
    inputs, body, feed, tops = FED[case]
    text = _net(inputs, body)
    model = seeded_model(text, seed=len(case))
    feed = feed(np.random.default_rng(len(case)))
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        for name, x in feed.items():
            net.setInput(x, name)
        (got,) = net.forwardAndRetrieve(["y"])
    assert net._torch_free is not None, net.engine_reason
    want = exact(text, model, feed, tops, tmp_path)
    for top, value in zip(tops, got):
        assert value.shape == want[top].shape, top
        assert scaled_error(value, want[top]) <= LAYER_TOL, top


@pytest.mark.parametrize("body, inputs, why", [
    (_recurrent("LSTM", 'bottom: "x" bottom: "cont"', 'top: "y"', 5).replace(
        "expose_hidden: true", "expose_hidden: false"), {"x": (3, 2, 4), "cont": (3, 2)},
     "carries the last state"),
    ('layer { name: "y" type: "Filter" bottom: "x" bottom: "s" top: "y" }\n',
     {"x": (4, 3), "s": (4, 1)}, "item count depends on the data")],
    ids=["lstm_carrying_its_state", "filter"])
def test_what_a_fixed_shape_graph_cannot_hold_takes_the_torch_path(body, inputs, why):
    """A recurrent layer carrying its state from one forward to the next, Filter's item count:
    written for an export only, the torch path runs the net."""
    from caffe_compat import dnn
    text = _net(inputs, body)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=seeded_model(text))
    assert net._torch_free is None and why in net.engine_reason


@pytest.mark.parametrize("case", sorted(CASES))
def test_converter_matches_our_forward(case, tmp_path):
    inputs, body = CASES[case]
    text = _net(inputs, body)
    model = seeded_model(text, seed=len(case))
    rng = np.random.default_rng(len(case))
    feed = {n: rng.normal(0, 1, s).astype(np.float32) for n, s in inputs.items()}
    last = body.rstrip().splitlines()[-1]
    name = last.split('name: "')[1].split('"')[0]
    top = last.split('top: "')[1].split('"')[0]
    (got,), _ = torch_free(text, model, feed, [name])
    want = exact(text, model, feed, [top], tmp_path)[top]
    assert got.shape == want.shape
    assert scaled_error(got, want) <= LAYER_TOL


def _opencv5():
    import cv2
    return int(cv2.__version__.split(".")[0]) >= 5


@pytest.mark.skipif(not _opencv5(), reason="the reader of OpenCV 5 (the runtime where "
                    "onnxruntime is missing); OpenCV 4 keeps its own Caffe importer")
@pytest.mark.parametrize("case", sorted(CASES))
def test_converter_on_opencv5s_onnx_reader(case, tmp_path, monkeypatch):
    from caffe_compat.onnx_path import runtime
    monkeypatch.setenv(runtime.ENV_RUNTIME, "opencv")
    test_converter_matches_our_forward(case, tmp_path)


def test_legacy_input_dim(tmp_path):
    """``input:`` with ``input_dim`` (the legacy deploy header) reads as an Input layer."""
    text = ('name: "t"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 9\n'
            'input_dim: 7\n' + _conv("y", "data", 4, "kernel_size: 3 stride: 2"))
    model = seeded_model(text)
    feed = {"data": np.random.default_rng(1).normal(0, 1, (1, 3, 9, 7)).astype(np.float32)}
    (got,), _ = torch_free(text, model, feed, ["y"])
    assert scaled_error(got, exact(text, model, feed, ["y"], tmp_path)["y"]) <= LAYER_TOL


def test_every_required_type_has_a_converter():
    required = {"Convolution", "Deconvolution", "Pooling", "ReLU", "LRN", "InnerProduct",
                "Softmax", "Concat", "Eltwise", "Dropout", "BatchNorm", "Scale", "Power",
                "Crop", "Flatten", "Reshape", "Permute", "Normalize", "PriorBox",
                "DetectionOutput", "Split"}
    assert required <= set(lite.supported_types())


def test_the_lazy_table_names_the_module_registering_each_type():
    """A type's converter is imported on first use: the table (``_modules.py``) is the one the
    registrations give, for every type the module that registers it."""
    from caffe_compat.onnx_path import converters
    from caffe_compat.onnx_path.converters import _common, index
    assert index.scan() == _common.MODULES, \
        "run python -m caffe_compat.onnx_path.converters.index to write the table again"
    assert sorted(_common.MODULES) == converters.registered_types()
