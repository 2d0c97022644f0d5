"""cv2.dnn after ``install()``: a caffemodel that leaves layers of the net uncovered is a
WeightsMismatchWarning at read time (readNetFromCaffe, readNet, buffers), an error under the
warnings filter; a deploy net and its own caffemodel say nothing."""
import warnings

import cv2
import numpy as np
import pytest

from caffe_compat import Net, dnn
from caffe_compat.errors import CaffeCompatError, WeightsError, WeightsMismatchWarning

DEPLOY = """name: "small"
input: "data"
input_shape { dim: 1 dim: 1 dim: 6 dim: 6 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "fc2" type: "InnerProduct" bottom: "conv1" top: "fc2"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
"""
RENAMED = DEPLOY.replace('"fc2"', '"fc_out"')


@pytest.fixture
def installed():
    """cv2.dnn with caffe_compat's Caffe reader (``replace=True`` on OpenCV 4); restored."""
    dnn.install(replace=True)
    yield cv2
    dnn.uninstall()


@pytest.fixture
def files(tmp_path):
    Net(DEPLOY, seed=3).save(tmp_path / "w.caffemodel")
    (tmp_path / "deploy.prototxt").write_text(DEPLOY)
    (tmp_path / "renamed.prototxt").write_text(RENAMED)
    return (str(tmp_path / "deploy.prototxt"), str(tmp_path / "renamed.prototxt"),
            str(tmp_path / "w.caffemodel"))


def mismatches(record):
    return [w for w in record if issubclass(w.category, WeightsMismatchWarning)]


@pytest.mark.parametrize("how", ["readNetFromCaffe", "readNet", "readNet swapped", "buffers"])
def test_every_reader_warns(installed, files, how):
    _, renamed, weights = files
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        if how == "readNetFromCaffe":
            net = installed.dnn.readNetFromCaffe(renamed, weights)
        elif how == "readNet":
            net = installed.dnn.readNet(weights, renamed)
        elif how == "readNet swapped":
            net = installed.dnn.readNet(renamed, weights)
        else:
            with open(renamed, "rb") as f, open(weights, "rb") as g:
                net = installed.dnn.readNetFromCaffe(
                    np.frombuffer(f.read(), np.uint8), np.frombuffer(g.read(), np.uint8))
    found = mismatches(record)
    assert len(found) == 1, [str(w.message) for w in record]
    text = str(found[0].message)
    source = "<bufferModel>" if how == "buffers" else weights
    assert text.startswith(f"{source}: these weights do not cover net 'small'")
    assert "'fc_out' (2 blobs" in text and "'fc2'" in text
    assert found[0].filename == __file__
    net.setInput(np.ones((1, 1, 6, 6), np.float32))
    assert net.forward().shape == (1, 3)


def test_the_warnings_filter_makes_it_an_error(installed, files):
    _, renamed, weights = files
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        with pytest.raises(WeightsError, match=r"'fc_out'") as info:
            installed.dnn.readNetFromCaffe(renamed, weights)
    assert isinstance(info.value, CaffeCompatError)


def test_a_deploy_net_and_its_caffemodel_say_nothing(installed, files):
    deploy, _, weights = files
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        net = installed.dnn.readNetFromCaffe(deploy, weights)
        net.setInput(np.ones((1, 1, 6, 6), np.float32))
        assert net.forward().any()
        installed.dnn.readNetFromCaffe(deploy)            # no weights given: nothing to say
