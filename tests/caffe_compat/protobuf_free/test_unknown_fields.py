"""Caffemodels of training forks hold fields Caffe 1.0 does not know (MTCNN's loss settings,
SSD's layer parameters): the light reader skips them and gives the protobuf reader's report,
word for word, so that such a file is read without protobuf."""
import warnings

import numpy as np
import pytest

from caffe_compat.io import caffemodel as caffemodel_io
from caffe_compat.io.unknown_report import CaffemodelWarning
from caffe_compat.io.fork_wire import encode_varint as _varint
from caffe_compat.io.protobuf_free import weights as light_weights
from caffe_compat.proto import caffe_pb2


def _field(number, wire, payload):
    return _varint((number << 3) | wire) + payload


def _with_unknown_fields():
    """A two-layer caffemodel whose second layer holds an unknown LayerParameter field
    (number 203: SSD's prior_box_param) and whose softmax_param holds an unknown field 3."""
    net = caffe_pb2.NetParameter(name="n")
    conv = net.layer.add(name="conv", type="Convolution")
    blob = conv.blobs.add()
    blob.shape.dim.extend([2, 3])
    blob.data.extend(np.arange(6, dtype=np.float32).tolist())
    loss = caffe_pb2.LayerParameter(name="loss", type="Softmax")
    softmax = loss.softmax_param.SerializeToString() + _field(3, 0, _varint(7))
    loss.ClearField("softmax_param")
    layer = loss.SerializeToString() + _field(125, 2, _varint(len(softmax)) + softmax) + \
        _field(203, 2, _varint(2) + b"\x08\x01")
    head = caffe_pb2.NetParameter(name="n")
    out = head.SerializeToString()
    for part in (conv.SerializeToString(), layer):
        out += _field(100, 2, _varint(len(part)) + part)
    return out


def test_the_light_reader_reports_as_the_protobuf_reader():
    data = _with_unknown_fields()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        caffemodel_io.parse_caffemodel_values(data, "m.caffemodel")
    said = [str(w.message) for w in seen if issubclass(w.category,
                                                       CaffemodelWarning)]
    assert len(said) == 1
    report = []
    got = light_weights.read(data, report)
    assert got is not None and list(got) == ["conv"]
    np.testing.assert_array_equal(got["conv"][0], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert report == ["layer[1] 'loss': LayerParameter field(s) 203 (prior_box_param of "
                      "SSD's Caffe); SoftmaxParameter field(s) 3"]
    assert said[0].endswith(report[0])
    assert light_weights.read(data) is None          # without a report: the protobuf reader's


def test_unknown_fields_outside_the_layers_are_left_to_the_protobuf_reader():
    data = _with_unknown_fields() + _field(77, 0, _varint(1))
    assert light_weights.read(data, []) is None


def test_mtcnn_reads_without_protobuf_with_the_same_report(tmp_path):
    import subprocess
    import sys
    from tests.conftest import public_input
    folder = public_input("models", "mtcnn")
    # cv2.dnn's readers say it as an INFO record (OpenCV reads such files without a word)
    child = ("import logging, sys, warnings\nwarnings.simplefilter('error')\n"
             "logging.basicConfig(level=logging.INFO)\n"
             "from caffe_compat import dnn\n"
             f"net = dnn.readNetFromCaffe(r'{folder}/det2.prototxt', r'{folder}/det2.caffemodel')\n"
             "assert net.engine == 'torch-free', net.engine_reason\n"
             "print('google.protobuf' in sys.modules)\n")
    got = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         timeout=300)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "False"
    assert ("layer[18] 'loss3': LossParameter field(s) 4; layer[19] 'loss2': LossParameter "
            "field(s) 4") in got.stderr


def test_the_warning_points_at_the_programs_own_call(tmp_path, caplog):
    """A pycaffe program reading a training fork's caffemodel is shown its own line, not a
    line inside the package; a cv2.dnn program gets an INFO record instead (OpenCV reads
    such files without a word)."""
    import logging

    import caffe
    from caffe_compat import dnn
    (tmp_path / "n.prototxt").write_text(
        'name: "n" input: "data" input_dim: 1 input_dim: 3 input_dim: 1 input_dim: 1\n'
        'layer { name: "conv" type: "InnerProduct" bottom: "data" top: "conv"\n'
        '        inner_product_param { num_output: 2 bias_term: false } }\n'
        'layer { name: "loss" type: "Softmax" bottom: "conv" top: "loss" }\n')
    (tmp_path / "n.caffemodel").write_bytes(_with_unknown_fields())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        caffe.Net(str(tmp_path / "n.prototxt"), caffe.TEST,
                  weights=str(tmp_path / "n.caffemodel"))
    said = [w for w in seen if issubclass(w.category, CaffemodelWarning)]
    assert len(said) == 1 and said[0].filename == __file__
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, "caffe_compat.io"):
        warnings.simplefilter("error", CaffemodelWarning)
        dnn.readNetFromCaffe(str(tmp_path / "n.prototxt"), str(tmp_path / "n.caffemodel"))
    logged = [r for r in caplog.records if "fields unknown to Caffe 1.0" in r.getMessage()]
    assert len(logged) == 1 and "n.caffemodel" in logged[0].getMessage()
