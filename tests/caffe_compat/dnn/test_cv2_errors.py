"""After ``install()`` every error of the cv2.dnn path (the readers, a net's methods, a layer's
blobs) is a ``cv2.error``, as OpenCV 4's are, and still caffe_compat's own error with its
message (caffe_compat.dnn.cv2_errors). Run through ``cv2.dnn`` after ``install()`` (OpenCV 5;
on OpenCV 4 ``replace=True`` stands in for the missing importer)."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from caffe_compat import dnn, errors
from caffe_compat.diagnostics.engine_notice import EngineFallbackWarning
from caffe_compat.net.input_check import InputShapeError
from tests.caffe_compat.dnn import api_nets

cv2 = pytest.importorskip("cv2")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

UNKNOWN = '''name: "unknown"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }
layer { name: "odd" type: "NoSuchType" bottom: "data" top: "odd" }
'''
BAD_SYNTAX = 'name: "bad"\nlayer { name: "data" type: "Input" top: "data"\n  bogus { }\n}\n'


@pytest.fixture
def installed():
    dnn.install(replace=True)
    yield cv2
    dnn.uninstall()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The gray net and its weights, the same net with 3 outputs (the gray weights are another
    net's for it), a definition that does not parse, one with an unknown type, a broken
    caffemodel."""
    folder = tmp_path_factory.mktemp("cv2_errors")
    text, model = api_nets.gray()
    paths = {"gray": folder / "gray.prototxt", "gray_weights": folder / "gray.caffemodel",
             "wider": folder / "wider.prototxt", "bad": folder / "bad.prototxt",
             "unknown": folder / "unknown.prototxt", "junk": folder / "junk.caffemodel"}
    paths["gray"].write_text(text)
    paths["gray_weights"].write_bytes(model)
    paths["wider"].write_text(text.replace("num_output: 2", "num_output: 3"))
    paths["bad"].write_text(BAD_SYNTAX)
    paths["unknown"].write_text(UNKNOWN)
    paths["junk"].write_bytes(b"\xff\xfe not a caffemodel" * 4)
    return {k: str(v) for k, v in paths.items()}


def _gray_net(cv, files):
    return cv.dnn.readNetFromCaffe(files["gray"], files["gray_weights"])


def _feed(net, shape=(1, 1, 8, 8), name=""):
    net.setInput(np.zeros(shape, np.float32), name)
    return net.forward()


_QUANTIZED = {}         # one quantized net for the cases that need one (a quantize is slow)


def _quantized(net):
    if "gray" not in _QUANTIZED:
        calibration = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
        _QUANTIZED["gray"] = net.quantize([calibration], cv2.CV_32F, cv2.CV_32F)
    return _QUANTIZED["gray"]


# (what goes wrong, the call, caffe_compat's error class, words of its message)
CASES = {
    "bad prototxt syntax": (lambda cv, f: cv.dnn.readNetFromCaffe(f["bad"]),
                            errors.PrototxtError, ["bad.prototxt:3:", "bogus"]),
    "missing prototxt": (lambda cv, f: cv.dnn.readNetFromCaffe(f["gray"] + ".nope"),
                         errors.UnopenedPrototxtError, ["gray.prototxt.nope", "no such"]),
    "missing caffemodel": (lambda cv, f: cv.dnn.readNetFromCaffe(f["gray"], f["junk"] + ".x"),
                           errors.UnopenedWeightsError, ["junk.caffemodel.x", "no such"]),
    "broken caffemodel": (lambda cv, f: cv.dnn.readNetFromCaffe(f["gray"], f["junk"]),
                          errors.WeightsError, ["junk.caffemodel", "not a valid"]),
    # (at the forward, as in OpenCV: the declared shapes may be a placeholder)
    "another net's weights": (lambda cv, f: _feed(cv.dnn.readNetFromCaffe(f["wider"],
                                                                          f["gray_weights"])),
                              errors.WeightsError, ["gray.caffemodel: cannot copy weights",
                                                    "wider.prototxt:3:", "(3, 1, 3, 3)"]),
    "another net's weights by readNet": (lambda cv, f: _feed(cv.dnn.readNet(f["gray_weights"],
                                                                            f["wider"])),
                                         errors.WeightsError, ["gray.caffemodel: cannot copy"]),
    "unknown layer type": (lambda cv, f: cv.dnn.readNetFromCaffe(f["unknown"]),
                           errors.NetError, ["unknown.prototxt:3:", "NoSuchType"]),
    "wrong input shape": (lambda cv, f: _feed(_gray_net(cv, f), (1, 3, 8, 8)),
                          InputShapeError, ["gray.prototxt", "1 channel"]),
    "wrong input blob name": (lambda cv, f: _feed(_gray_net(cv, f), name="image"),
                              errors.NetError, ["gray.prototxt", '"image" not found']),
    "unknown layer name": (lambda cv, f: _gray_net(cv, f).getLayer("conv9"),
                           errors.NetError, ["gray.prototxt", '"conv9" not found']),
    "forward of an unknown layer": (lambda cv, f: _gray_net(cv, f).forward("conv9"),
                                    errors.NetError, ['"conv9" not found']),
    "a layer blob of the wrong size": (
        lambda cv, f: setattr(_gray_net(cv, f).getLayer("conv1"), "blobs", [np.zeros(3)]),
        errors.NetError, ["layer 'conv1' blob 0 has 18 values"]),
    "getParam out of range": (lambda cv, f: _gray_net(cv, f).getParam("conv1", 5),
                              errors.NetError, ["numParam=5"]),
    "quantize of a quantized net": (
        lambda cv, f: _quantized(_gray_net(cv, f)).quantize(
            [np.zeros((1, 1, 8, 8), np.float32)], cv2.CV_32F, cv2.CV_32F),
        errors.NetError, ["Cannot quantize a quantized net"]),
    "a quantized net's unknown layer": (lambda cv, f: _quantized(_gray_net(cv, f)).getLayer("x"),
                                        errors.NetError, ['"x" not found']),
    # OpenCV 4.14: "inp.total()" at the forward (the torch-free runtime's kernel would divide
    # by the empty batch: SIGFPE), "Scalar value for argument 'mean' is longer than 4", and its
    # bindings' conversion errors
    "an empty batch": (lambda cv, f: _feed(_gray_net(cv, f), (0, 1, 8, 8)),
                       errors.NetError, ["gray.prototxt", "input 'data' is empty"]),
    "a mean of five values": (lambda cv, f: _gray_net(cv, f).setInput(
        np.zeros((1, 1, 8, 8), np.float32), "", 1.0, (1, 2, 3, 4, 5)),
        errors.NetError, ["at most 4 values"]),
    "a scale that is no number": (lambda cv, f: _gray_net(cv, f).setInput(
        np.zeros((1, 1, 8, 8), np.float32), "", (1.0, 2.0)), errors.NetError, ["setInput"]),
    "a method not provided": (lambda cv, f: _gray_net(cv, f).dumpToPbtxt("x.pbtxt"),
                              dnn.UnsupportedMethodError, ["dumpToPbtxt"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_cv2_dnn_error_is_a_cv2_error(installed, files, case):
    """``except cv2.error`` catches it, ``except`` caffe_compat's class too, with our words
    (file and line where the input has them), OpenCV's attributes and no engine warning
    before it."""
    call, ours, words = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallbackWarning)
        with pytest.raises(cv2.error) as caught:
            call(installed, files)
    exc = caught.value
    assert isinstance(exc, ours) and isinstance(exc, errors.CaffeCompatError), type(exc).__mro__
    for word in words:
        assert word in str(exc), (word, str(exc))
    assert exc.code == cv2.Error.StsError and exc.err == exc.msg == str(exc)
    assert exc.func.startswith("cv2.") and exc.file.endswith(".py") and exc.line > 0
    assert type(exc).__name__ == ours.__name__          # the traceback names our class


def test_our_own_readers_keep_caffe_compat_errors_alone(installed, files):
    """The mapping is the cv2.dnn path's: caffe_compat.dnn.readNetFromCaffe and its nets raise
    caffe_compat's errors, not cv2.error."""
    with pytest.raises(errors.PrototxtError) as caught:
        dnn.readNetFromCaffe(files["bad"])
    assert not isinstance(caught.value, cv2.error)
    net = dnn.readNetFromCaffe(files["gray"], files["gray_weights"])
    with pytest.raises(errors.NetError) as caught:
        net.getLayer("conv9")
    assert not isinstance(caught.value, cv2.error)


def test_a_net_read_through_cv2_works_as_before(installed, files):
    """The cv2.dnn path's net is a caffe_compat.dnn.Net: the same answers, its layers too."""
    net = _gray_net(installed, files)
    own = dnn.readNetFromCaffe(files["gray"], files["gray_weights"])
    assert isinstance(net, dnn.Net) and isinstance(net.getLayer(1), dnn.Layer)
    assert np.array_equal(_feed(net), _feed(own))
    assert net.getLayerNames() == own.getLayerNames() == ("conv1",)


def test_a_new_error_class_is_covered_without_listing_it(installed, files, monkeypatch):
    """Any subclass of CaffeCompatError (one added later, say) is a cv2.error on that path."""
    from caffe_compat.dnn import readers

    class NewWeightsTrouble(errors.WeightsError):
        pass

    def refuse(*args):
        raise NewWeightsTrouble(f"{files['gray_weights']}: refused")

    monkeypatch.setattr(readers, "_read_net_from_caffe", refuse)
    with pytest.raises(cv2.error) as caught:
        installed.dnn.readNetFromCaffe(files["gray"], files["gray_weights"])
    assert isinstance(caught.value, NewWeightsTrouble)
    assert str(caught.value) == f"{files['gray_weights']}: refused"


def test_the_weights_mismatch_names_the_caffemodel_without_a_warning_first(files):
    """Our own reader too: the message names the caffemodel's path; the torch-free path's
    refusal is not announced for a net the torch path refuses as well."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        net = dnn.readNetFromCaffe(files["wider"], files["gray_weights"])
        with pytest.raises(errors.WeightsError) as caught:
            _feed(net)
    assert str(caught.value).startswith(f"{files['gray_weights']}: cannot copy weights")
    assert not [w for w in seen if issubclass(w.category, EngineFallbackWarning)]


def test_the_cv2_path_is_not_imported_by_caffe_compat_or_pycaffe():
    """caffe_compat, caffe_compat.dnn and pycaffe do not import cv2 to read a net (the
    mapping is install()'s)."""
    code = ("import sys, caffe, caffe_compat, caffe_compat.dnn\n"
            "print('cv2' in sys.modules, 'caffe_compat.dnn.cv2_errors' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=ROOT)      # this tree alone (no cv2 put in first)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT).stdout.split()
    assert out == ["False", "False"]


def test_a_cv2_path_error_pickles_as_itself(installed, files):
    """An error sent to another process (multiprocessing) arrives as the same joined class,
    message and attributes."""
    import pickle
    with pytest.raises(cv2.error) as caught:
        installed.dnn.readNetFromCaffe(files["bad"])
    back = pickle.loads(pickle.dumps(caught.value))
    assert type(back) is type(caught.value) and isinstance(back, errors.PrototxtError)
    assert str(back) == str(caught.value) and back.func == caught.value.func
