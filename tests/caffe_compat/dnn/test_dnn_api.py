"""The cv2.dnn Net and Layer rules that public programs lean on, against OpenCV 4.14's answers
(fixtures/make_opencv4_api_fixtures.py wrote them): OpenCV 4's constants after ``install()``,
``Layer.outputNameToIndex``, ``forward()`` of a net ending in Silence, ``Layer.blobs = [...]``,
a Crop whose uncropped axes differ, ``cv2.dnn_registerLayer``, the importer's names (a
Convolution is named after its top), ``readNet``'s file rules, and the error for a blob of the
wrong channel count. Run through ``cv2.dnn`` after ``install()`` (OpenCV 5; on OpenCV 4
``replace=True`` stands in for the missing importer)."""
import json
import os
import warnings

import numpy as np
import pytest

from caffe_compat import NetError
from caffe_compat import dnn
from tests.caffe_compat.dnn import api_nets, nets
from tests.caffe_compat.dnn.fixtures import make_opencv4_api_fixtures as fx

cv2 = pytest.importorskip("cv2")

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
META = json.load(open(os.path.join(HERE, "opencv4_api.json")))
REF = dict(np.load(os.path.join(HERE, "opencv4_api.npz")))
# float32 on both sides with different summation orders (OpenCV's kernels vs torch's): the
# acceptance bound of the dnn tests, 1e-4 of an output's largest magnitude
TOL = 1e-4


def scaled_error(ours, theirs):
    theirs = np.asarray(theirs, np.float64)
    assert np.shape(ours) == theirs.shape, (np.shape(ours), theirs.shape)
    return float(np.abs(np.asarray(ours, np.float64) - theirs).max()
                 / max(np.abs(theirs).max(), 1e-30))


@pytest.fixture
def installed():
    dnn.install(replace=True)
    yield cv2
    dnn.uninstall()


@pytest.fixture(scope="module")
def naming_files():
    text, model = api_nets.naming()
    assert nets.digest(text, model) == META["digest"]             # what OpenCV 4 read
    return text, model


def read(cv, files):
    text, model = files
    return cv.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                   np.frombuffer(model, np.uint8))


def test_install_puts_back_opencv4_constants(installed):
    """Point 1: samples that list backends at import (DNN_BACKEND_HALIDE, DNN_LAYOUT_*)."""
    for name, value in META["constants"].items():
        assert getattr(installed.dnn, name) == value, name
        assert getattr(dnn, name) == value, name


def test_uninstall_removes_what_install_added():
    before = set(dir(cv2.dnn))
    dnn.install(replace=True)
    dnn.uninstall()
    assert set(dir(cv2.dnn)) == before


def test_layer_names_ids_types_follow_opencv4(installed, naming_files):
    """Point 7: a Convolution is named after its top, one layer per bottom / top pair;
    ConvolutionDepthwise reports type Convolution; the Silence layer is a layer."""
    m = META["naming"]
    net = read(installed, naming_files)
    assert list(net.getLayerNames()) == m["names"]
    assert {n: net.getLayerId(n) for n in m["ids"]} == m["ids"]
    assert {n: net.getLayer(n).type for n in m["names"]} == m["types"]
    assert net.getUnconnectedOutLayers().tolist() == m["unconnected"]
    assert list(net.getUnconnectedOutLayersNames()) == m["unconnected_names"]
    assert {n: [list(b.shape) for b in net.getLayer(n).blobs] for n in m["names"]} == \
        m["blob_shapes"]
    x = fx.naming_input()
    for name in m["names"]:
        net.setInput(x)
        assert scaled_error(net.forward(name), REF[f"naming/out/{name}"]) <= TOL, name


def test_forward_of_a_net_ending_in_silence(installed, naming_files):
    """Point 3: OpenCV 4's Silence passes its input on; forward() returns it."""
    net = read(installed, naming_files)
    net.setInput(fx.naming_input())
    assert scaled_error(net.forward(), REF["naming/forward"]) <= TOL
    got = net.forwardAndRetrieve(["sil"])
    assert len(got[0]) == 1 and scaled_error(got[0][0], REF["naming/forward"]) <= TOL


def test_crop_checks_only_the_cropped_axes(installed, naming_files):
    """Point 5: a 1-channel map cropped against the 3-channel input (axis 2) runs."""
    net = read(installed, naming_files)
    net.setInput(fx.naming_input())
    assert scaled_error(net.forward("cr"), REF["naming/out/cr"]) <= TOL


def test_output_name_to_index(installed, naming_files):
    """Point 2: the input layer answers an input's index (-1 for other names); the other
    layers answer 0, as OpenCV 4's base Layer."""
    net = read(installed, naming_files)
    for layer_id, want in META["naming"]["output_index"].items():
        layer = net.getLayer(int(layer_id))
        assert [layer.outputNameToIndex(s) for s in fx.PROBE_NAMES] == want, layer_id
    assert net.getLayer(1).preferableTarget == installed.dnn.DNN_TARGET_CPU


def test_assigning_layer_blobs_sets_the_weights(installed, naming_files):
    """Point 4: ``net.getLayer(id).blobs = [...]`` (colorization's cluster centres); a
    Convolution given its weights alone runs without its bias."""
    net = read(installed, naming_files)
    net.getLayer("sc").blobs = [fx.SCALE_BLOB]
    w = np.asarray(net.getLayer("conv1_1").blobs[0]) * -1.0
    net.getLayer(net.getLayerId("conv1_1")).blobs = [w]
    assert {n: [list(b.shape) for b in net.getLayer(n).blobs][:1]
            for n in ("sc", "conv1_1")} == META["set_blob_shapes"]
    np.testing.assert_array_equal(net.getLayer("sc").blobs[0], fx.SCALE_BLOB)
    x = fx.naming_input()
    for name in ("sc", "conv1_1"):
        net.setInput(x)
        assert scaled_error(net.forward(name), REF[f"set/{name}"]) <= TOL, name
    with pytest.raises(NetError, match=r"layer 'sc' \(Scale\) holds 1 blob\(s\); 2 given"):
        net.getLayer("sc").blobs = [fx.SCALE_BLOB, fx.SCALE_BLOB]
    with pytest.raises(NetError, match=r"'conv1_1' blob 0 has 108 values, got 4"):
        net.getLayer("conv1_1").blobs = [np.zeros(4, np.float32)]


def test_registered_python_layer_replaces_a_type(installed, naming_files):
    """Point 6: cv2.dnn_registerLayer('Crop', cls) runs the net's Crop with cls (HED's
    centre crop), called as OpenCV 4 calls it; after dnn_unregisterLayer, Caffe's Crop."""
    api_nets.CentreCrop.calls.clear()
    installed.dnn_registerLayer("Crop", api_nets.CentreCrop)
    try:
        net = read(installed, naming_files)
        x = fx.naming_input()
        net.setInput(x)
        assert scaled_error(net.forward("cr"), REF["python/cr"]) <= TOL
        net.setInput(np.concatenate([x, x], axis=3))
        assert scaled_error(net.forward("cr"), REF["python/cr_wide"]) <= TOL
    finally:
        installed.dnn_unregisterLayer("Crop")
    calls = json.loads(json.dumps([list(c) for c in api_nets.CentreCrop.calls]))
    assert calls == META["python_calls"]
    net = read(installed, naming_files)
    net.setInput(fx.naming_input())
    assert scaled_error(net.forward("cr"), REF["python/after_unregister"]) <= TOL


def test_a_placeholder_declared_shape_runs_at_the_shapes_fed(installed):
    """OpenPose's deploy files declare 1 x 3 x 1 x 1, where an unpadded 7 x 7 convolution has
    no output: OpenCV 4 reads the net and runs it at the blob fed, asking a registered Python
    layer's getMemoryShapes for those shapes only; the same here, both engines."""
    x = np.random.default_rng(fx.INPUT_SEED).uniform(-1, 1, api_nets.PLACEHOLDER_FED)
    weights = nets.caffemodel_bytes(api_nets.PLACEHOLDER, api_nets.PLACEHOLDER_BLOBS, seed=14)
    for engine in ("torch", "auto"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CAFFE_COMPAT_ENGINE", engine)
            net = read(installed, (api_nets.PLACEHOLDER, weights))
            net.setInput(x.astype(np.float32))
            assert scaled_error(net.forward(), REF["placeholder/forward"]) <= TOL
    api_nets.EdgeCut.calls.clear()
    installed.dnn_registerLayer("Python", api_nets.EdgeCut)
    try:
        net = read(installed, (api_nets.PLACEHOLDER_PY, weights))
        net.setInput(x.astype(np.float32))
        assert scaled_error(net.forward(), REF["placeholder/python"]) <= TOL
    finally:
        installed.dnn_unregisterLayer("Python")
    assert json.loads(json.dumps(api_nets.EdgeCut.calls)) == META["placeholder_calls"]


def test_python_layer_params_as_opencv4_gives_them():
    """The ``params`` dict of a registered class: the *_param fields set, flattened; a repeated
    field of several values a tuple, a bool 0 / 1, an enum its name, floats as float32 gives
    them (the values OpenCV 4.14 passed)."""
    from caffe_compat.io import prototxt as prototxt_io
    param = prototxt_io.parse_net(api_nets.PARAMS, filename="<params>")
    got = [dnn.python_layers.opencv_layer_params(lp) for lp in param.layer
           if lp.type in api_nets.PARAMS_TYPES]
    # OpenCV makes the instances from the output back; the order is not part of the rule
    assert sorted(json.dumps(g) for g in got) == sorted(json.dumps(g) for g in
                                                        META["python_params"])


def test_readnet_takes_either_order_and_any_text_extension(installed, naming_files,
                                                           tmp_path):
    """Point 8: readNet("x.caffemodel", "deploy.prototxt.txt") (the face detector's file
    names), the other order, and framework "caffe" with a .txt definition."""
    text, model = naming_files
    proto, weights = tmp_path / "deploy.prototxt.txt", tmp_path / "x.caffemodel"
    other = tmp_path / "definition.txt"
    proto.write_text(text)
    other.write_text(text)
    weights.write_bytes(model)
    calls = {"model_first": (str(weights), str(proto)), "config_first": (str(proto),
                                                                         str(weights)),
             "framework": (str(weights), str(other), "caffe")}
    for key, args in calls.items():
        net = installed.dnn.readNet(*args)
        assert list(net.getLayerNames()) == META["readnet"][key], key
        net.setInput(fx.naming_input())
        assert scaled_error(net.forward(), REF[f"readnet/{key}"]) <= TOL, key
        assert dnn.is_caffe_model(*args)


def test_wrong_channel_count_names_the_layer(installed):
    """Point 10: a 3-channel blob into a 1-channel net is a NetError naming the input, the
    layer whose weights fix its channels, the shapes and the fix (OpenCV 4: an assertion in
    convolution_layer.cpp), not a state_dict error, with or without weights (the check of
    every path, tests/caffe_compat/net/test_input_check.py)."""
    text, model = api_nets.gray()
    for files in ((text, model), (text, b"")):
        net = installed.dnn.readNetFromCaffe(np.frombuffer(files[0].encode(), np.uint8),
                                             np.frombuffer(files[1], np.uint8))
        net.setInput(np.ones((1, 3, 8, 8), np.float32))
        with pytest.raises(NetError) as info:
            net.forward()
        message = str(info.value)
        assert "state_dict" not in message
        assert message.startswith("<bufferProto>: input 'data' (1, 3, 8, 8): the net takes "
                                  "1 channel(s)") and "layer 'conv1' (Convolution)" in message
        assert "(1, 3, 8, 8)" in message and "1 channel(s)" in message and \
            "cv2.cvtColor" in message
    assert META["gray_error"].endswith("in function 'getMemoryShapes'")


def test_a_wrong_shape_after_a_right_one_is_refused(installed):
    """The input check skips the shapes it found to fit, and only them: a 3-channel blob
    after 1-channel ones of several sizes (a pyramid, twice) is refused as it is at first;
    the memo keeps only the last input_check.FITS_KEPT sets."""
    from caffe_compat.net import input_check
    text, model = api_nets.gray()
    net = installed.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                         np.frombuffer(model, np.uint8))
    for _ in range(2):
        for side in (8, 12, 9):
            net.setInput(np.ones((1, 1, side, side), np.float32))
            net.forward()
    fits = input_check.Fits({})
    for k in range(input_check.FITS_KEPT + 3):
        fits.check("x", (("data", (1, 1, k + 1, 4)),), {"data": (1, 1, 4, 4)})
    assert len(fits._fits) == input_check.FITS_KEPT
    net.setInput(np.ones((1, 3, 8, 8), np.float32))
    with pytest.raises(NetError, match="the net takes 1 channel"):
        net.forward()
    net.setInput(np.ones((1, 1, 8, 8), np.float32))
    net.forward()


# --------------------------------------------------------------------------------------------
# The rest of the Net API that programs call


def test_get_layers_shapes(installed, naming_files):
    want = META["layers_shapes"]
    net = read(installed, naming_files)
    for given in ((1, 3, 8, 8), [(1, 3, 8, 8)]):               # one shape or a list
        ids, ins, outs = net.getLayersShapes(given)
        assert ids.dtype == np.int32 and ids.tolist() == want["ids"]
        assert all(a.dtype == np.int32 for group in ins + outs for a in group)
        assert [[a.tolist() for a in g] for g in ins] == want["in"]
        assert [[a.tolist() for a in g] for g in outs] == want["out"]


def test_set_inputs_names(installed, naming_files):
    net = read(installed, naming_files)
    net.setInputsNames(["img"])
    assert [net.getLayer(0).outputNameToIndex(n) for n in ("img", "data")] == \
        META["renamed_index"]
    x = fx.naming_input()
    net.setInput(x, "img")
    assert scaled_error(net.forward(), REF["renamed/forward"]) <= TOL
    assert "Requested blob \"data\" not found" in META["renamed_old_name"]
    with pytest.raises(NetError, match=r'requested input blob "data" not found'):
        net.setInput(x, "data")


def test_forward_async_and_winograd(installed, naming_files):
    net = read(installed, naming_files)
    net.enableWinograd(False)                                   # accepted: same numbers
    net.setInput(fx.naming_input())
    assert "Asynchronous forward is supported for Inference Engine backend only" in \
        META["forward_async"]
    with pytest.raises(NetError, match="Asynchronous forward is supported for Inference "
                                       "Engine backend only"):
        net.forwardAsync()
    net.setPreferableBackend(installed.dnn.DNN_BACKEND_INFERENCE_ENGINE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # an engine that is not used says why
        result = net.forwardAsync()
        assert result.valid() and result.wait_for(0)
        assert scaled_error(result.get(), REF["naming/forward"]) <= TOL


@pytest.mark.parametrize("case", sorted(api_nets.FLOPS_CASES))
def test_get_flops_of_each_counted_type(case):
    text, model = api_nets.flops_net(case)
    net = dnn.readNetFromCaffe(text.encode(), model)
    assert net.getFLOPS(api_nets.FLOPS_INPUT) == META["flops"][case]      # an integer count
    # the layer object's type and the layer table's (a Dropout of Faster R-CNN's fork: Power)
    layer_type, types = META["flops_layer_type"][case]
    assert [net.getLayer("c").type if "c" in net.getLayerNames() else None,
            sorted(net.getLayerTypes())] == [layer_type, types]


def test_get_flops_and_memory_of_whole_nets(naming_files):
    """getFLOPS and getMemoryConsumption ((weight bytes, output bytes)) as OpenCV 4.14."""
    net = dnn.readNetFromCaffe(naming_files[0].encode(), naming_files[1])
    assert net.getFLOPS((1, 3, 8, 8)) == META["flops"]["naming"]
    assert list(net.getMemoryConsumption((1, 3, 8, 8))) == META["memory"]["naming"]
    assert net.getFLOPS([(1, 3, 8, 8)]) == META["flops"]["naming"]
    for key, (text, blobs), seed, shape in (
            ("googlenet", nets.googlenet(), 2, (1, 3, 224, 224)),
            ("res10_ssd", nets.res10_ssd(), 3, (1, 3, 300, 300))):
        net = dnn.readNetFromCaffe(text.encode(), nets.caffemodel_bytes(text, blobs, seed=seed))
        assert net.getFLOPS(shape) == META["flops"][key], key
        assert list(net.getMemoryConsumption(shape)) == META["memory"][key], key


def test_flops_and_memory_of_one_layer(naming_files):
    """getFLOPS(layerId, shape) and getMemoryConsumption(layerId, shape) of every id (0: the
    input layer), as OpenCV 4.14; the layers' sums are the whole net's figures."""
    net = dnn.readNetFromCaffe(naming_files[0].encode(), naming_files[1])
    ids = range(len(net.getLayerNames()) + 1)
    assert [net.getFLOPS(k, (1, 3, 8, 8)) for k in ids] == META["flops_by_layer"]
    got = [list(net.getMemoryConsumption(k, (1, 3, 8, 8))) for k in ids]
    assert got == META["memory_by_layer"]
    assert sum(META["flops_by_layer"]) == META["flops"]["naming"]
    assert [sum(col) for col in zip(*got)] == META["memory"]["naming"]
    with pytest.raises(NetError, match="id=99 not found"):
        net.getFLOPS(99, (1, 3, 8, 8))


def test_opencv4_call_forms(installed, naming_files):
    """Call forms of OpenCV 4.14's bindings that programs use: a single number as setInput's
    mean is a cv::Scalar (v, 0, 0, 0); scalefactor None; forward([]) and forward(None or buffers,
    name) give tuples; names as bytes; the input layer's count; hasattr of a method not provided."""
    net = read(installed, naming_files)
    x = np.random.RandomState(3).rand(1, 3, 8, 8).astype(np.float32) * 255
    net.setInput(x, "", 1 / 128.0, 127.5)
    got = net.forward("conv1_1")
    net.setInput(x, "", 1 / 128.0, (127.5, 0, 0, 0))
    np.testing.assert_array_equal(got, net.forward("conv1_1"))
    net.setInput(x, scalefactor=None)
    plain = net.forward("conv1_1")
    net.setInput(x)
    np.testing.assert_array_equal(plain, net.forward("conv1_1"))
    last = net.forward()
    empty = net.forward([])
    assert isinstance(empty, tuple) and len(empty) == 1
    np.testing.assert_array_equal(empty[0], last)
    both = net.forward(None, "sl")                # OpenCV's forward(outputBlobs, outputName)
    assert isinstance(both, tuple) and len(both) == 2
    for a, b in zip(both, net.forward([np.zeros(1)], "sl")):     # buffers given: the same
        np.testing.assert_array_equal(a, b)
    assert net.getLayerId(b"relu") == net.getLayerId("relu") > 0
    np.testing.assert_array_equal(net.forward(b"pool"), net.forward("pool"))
    assert net.getLayersCount("__NetInputLayer__") == 1
    assert not hasattr(net, "dumpToPbtxt") and getattr(net, "connect", None) is None


def test_forward_needs_every_input_set(installed, naming_files):
    """OpenCV 4.14 fails a forward before setInput, a declared input shape or not; so does
    this (it ran on zeros before)."""
    net = read(installed, naming_files)
    with pytest.raises(installed.error, match="input 'data' was not set; call setInput"):
        net.forward()


def test_dump_is_a_graphviz_digraph(installed, naming_files, tmp_path):
    net = read(installed, naming_files)
    text = net.dump()
    assert text.startswith("digraph G {") and text.rstrip().endswith("}")
    for k, name in enumerate(net.getLayerNames(), start=1):
        assert f"  {k} [label=" in text and f"name: {name}" in text
    assert "  0 -> 1;" in text                        # the input feeds the first convolution
    net.setInput(np.zeros((1, 3, 8, 8), np.float32))
    assert "output: 1x4x8x8" in net.dump()            # shapes once the inputs are set
    net.dumpToFile(str(tmp_path / "net.dot"))
    assert (tmp_path / "net.dot").read_text() == net.dump()


def test_images_from_blob_as_opencv():
    """caffe_compat.dnn.imagesFromBlob (OpenCV's where cv2 has it) and the rule written here
    give OpenCV's images: N x C x H x W -> N images H x W x C (H x W for one channel)."""
    from caffe_compat.dnn.blob import images_from_blob
    for shape in ((2, 3, 4, 5), (1, 1, 4, 5)):
        blob = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        theirs = cv2.dnn.imagesFromBlob(blob)
        for ours in (dnn.imagesFromBlob(blob), images_from_blob(blob)):
            assert isinstance(ours, tuple) and len(ours) == len(theirs)
            for a, b in zip(ours, theirs):
                assert a.dtype == np.float32
                np.testing.assert_array_equal(a, b)             # a copy: exact
    with pytest.raises(NetError, match="expected N x C x H x W"):
        images_from_blob(np.ones((3, 4, 5), np.float32))


def test_a_wrong_input_size_blames_the_input(installed, tmp_path):
    """A blob of another size than the declared one, which a fully connected layer's weights
    cannot take: the error is the input's (InputShapeError, a cv2.error on this path) with
    the size to feed, not the caffemodel's (OpenCV 4: an assertion in the layer)."""
    from caffe_compat import Net
    text = ('name: "fc" layer { name: "data" type: "Input" top: "data" input_param { shape '
            '{ dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" '
            'convolution_param { num_output: 2 kernel_size: 3 } }\n'
            'layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" '
            'inner_product_param { num_output: 4 } }\n')
    (tmp_path / "fc.prototxt").write_text(text)
    Net(text, phase="test", seed=1).save(str(tmp_path / "fc.caffemodel"))
    net = installed.dnn.readNetFromCaffe(str(tmp_path / "fc.prototxt"),
                                         str(tmp_path / "fc.caffemodel"))
    net.setInput(np.zeros((1, 3, 6, 6), np.float32))
    with pytest.raises(installed.error) as info:
        net.forward()
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "input 'data' (1, 3, 6, 6) is not the declared (1, 3, 8, 8)" in message
    assert "layer 'fc'" in message and "blobFromImage(img, size=(8, 8))" in message
    net.setInput(np.zeros((1, 3, 8, 8), np.float32))
    assert net.forward().shape == (1, 4)                  # the declared size still runs
