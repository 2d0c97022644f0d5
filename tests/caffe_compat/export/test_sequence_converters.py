"""Converters of the recurrent layers (LSTM, RNN, LSTMUnit), Im2col and Filter: small nets
exported to ONNX and run in onnxruntime against our forward, with other stream / batch counts
than the deploy file's."""
import numpy as np
import pytest

from caffe_compat import Net
from tests.caffe_compat.opencv_fixtures.nets import fill_weights, inputs_text, layer
from tests.caffe_compat.reference import scaled_error

from .helpers import ONNX_TOL, export_and_run, run_onnx

T, H = 4, 5


def _recurrent_text(type_, static, expose):
    shapes = {"x": (T, 2, 3, 2), "cont": (T, 2)}
    bottoms = ["x", "cont"]
    if static:
        shapes["xs"] = (2, 4)
        bottoms.append("xs")
    tops = ["y"]
    if expose:
        names = ["h0", "c0"] if type_ == "LSTM" else ["h0"]
        for s in names:
            shapes[s] = (1, 2, H)
        bottoms += names
        tops += [n.replace("0", "T") for n in names]
    params = (f"recurrent_param {{ num_output: {H} expose_hidden: {str(expose).lower()} "
              "weight_filler { type: 'uniform' min: -0.5 max: 0.5 } "
              "bias_filler { type: 'uniform' min: -0.2 max: 0.2 } }")
    return shapes, inputs_text(shapes) + layer("rec", type_, bottoms, params, tops=tops), tops


def _inputs(shapes, streams, seed):
    rng = np.random.RandomState(seed)
    out = {}
    for k, s in shapes.items():
        s = list(s)
        s[0 if k == "xs" else 1] = streams
        out[k] = rng.uniform(-1, 1, s).astype(np.float32)
    # sequences restart in some streams mid-way (cont 0), and the first step of each
    cont = (rng.uniform(size=(T, streams)) > 0.3).astype(np.float32)
    cont[0] = 0
    out["cont"] = cont
    return out


@pytest.mark.parametrize("type_", ["LSTM", "RNN"])
@pytest.mark.parametrize("static,expose", [(False, False), (True, True)])
def test_recurrent_export(type_, static, expose, tmp_path):
    shapes, text, tops = _recurrent_text(type_, static, expose)
    for streams in (2, 3):
        net = Net(text, phase="test")          # fresh: the carried state starts at zero
        fill_weights(net, 5)
        inputs = _inputs(shapes, streams, 11 + streams)
        theirs, ours = export_and_run(net, tmp_path, inputs, tops)
        for k in tops:
            # float32 sigmoid / tanh of onnxruntime against Caffe's double-rounded ones,
            # through T steps: a few 1e-7 of the scale
            assert scaled_error(theirs[k], ours[k]) <= ONNX_TOL, (k, streams)


def test_lstm_unit_export(tmp_path):
    text = inputs_text({"c": (1, 2, 3), "g": (1, 2, 12), "cont": (1, 2)}) + layer(
        "unit", "LSTMUnit", ["c", "g", "cont"], tops=["c1", "h1"])
    net = Net(text, phase="test")
    rng = np.random.RandomState(2)
    inputs = {"c": rng.uniform(-1, 1, (1, 3, 3)), "g": rng.uniform(-2, 2, (1, 3, 12)),
              "cont": np.array([[1, 0, 0.5]])}
    inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
    theirs, ours = export_and_run(net, tmp_path, inputs, ["c1", "h1"])
    for k in ("c1", "h1"):
        assert scaled_error(theirs[k], ours[k]) <= ONNX_TOL, k


@pytest.mark.parametrize("params,shape", [
    ("kernel_size: 3 stride: 2 pad: 1", (2, 3, 7, 6)),
    ("kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 2 dilation: 2",
     (2, 2, 6, 9)),
    ("kernel_size: 2 kernel_size: 1 kernel_size: 2 stride: 1 pad: 1", (2, 2, 3, 4, 5)),
    ("kernel_size: 2 stride: 2 pad: 1 axis: 2", (2, 3, 2, 5, 4)),
    ("kernel_size: 3 stride: 2", (2, 2, 2, 3)),      # one window, reading zeros past the end
])
def test_im2col_export_is_exact(params, shape, tmp_path):
    net = Net(inputs_text({"x": shape}) + layer("cols", "Im2col", ["x"],
                                                f"convolution_param {{ {params} }}"),
              phase="test")
    x = np.random.RandomState(0).uniform(-1, 1, (3,) + shape[1:]).astype(np.float32)
    theirs, ours = export_and_run(net, tmp_path, {"x": x}, ["cols"])
    assert theirs["cols"].shape == ours["cols"].shape
    assert np.array_equal(theirs["cols"], ours["cols"])      # copies only


def test_filter_export(tmp_path):
    text = inputs_text({"x": (4, 3, 2), "y": (4, 5), "sel": (4, 1)}) + layer(
        "filt", "Filter", ["x", "y", "sel"], tops=["fx", "fy"])
    net = Net(text, phase="test")
    rng = np.random.RandomState(4)
    inputs = {"x": rng.uniform(-1, 1, (5, 3, 2)).astype(np.float32),
              "y": rng.uniform(-1, 1, (5, 5)).astype(np.float32),
              "sel": np.array([[1], [0], [np.nan], [0], [-2]], np.float32)}
    theirs, ours = export_and_run(net, tmp_path, inputs, ["fx", "fy"])
    for k in ("fx", "fy"):
        assert theirs[k].shape == ours[k].shape == (3,) + inputs[k[1]].shape[1:]
        assert np.array_equal(theirs[k], ours[k])


def test_recurrent_input_declares_streams_free(tmp_path):
    """x and cont of an LSTM declare axis 1 (the streams) free and keep T fixed."""
    import onnx
    shapes, text, tops = _recurrent_text("LSTM", False, False)
    net = Net(text, phase="test")
    fill_weights(net, 5)
    path = tmp_path / "lstm.onnx"
    from caffe_compat.export import export_onnx
    export_onnx(net, path, outputs=tops)
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in onnx.load(str(path)).graph.input}
    assert dims == {"x": [T, "batch", 3, 2], "cont": [T, "batch"]}
    run_onnx(path, _inputs(shapes, 4, 0), tops)
