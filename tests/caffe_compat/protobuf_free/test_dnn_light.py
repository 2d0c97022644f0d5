"""caffe_compat.dnn nets read by the light reader against the same nets read by the protobuf
reader: the same tables (inputs, shapes, OpenCV's layers), every layer the converters see
the same field by field, the same ONNX model and outputs (tolerance 0: the same bytes run on
the same runtime); the protobuf side read on first use; a one-shot program imports no
protobuf."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from caffe_compat import dnn
from caffe_compat import onnx_path as lite
from caffe_compat.dnn import readers
from caffe_compat.dnn.light_read import light_tables
from caffe_compat.errors import NetError
from caffe_compat.io.prototxt import parse_net, upgrade_parsed_net
from caffe_compat.io.protobuf_free import deploy as light_deploy
from tests.caffe_compat.dnn import nets, zoo_nets
from tests.caffe_compat.public_nets import NETS
from tests.caffe_compat.test_fast_text import _corpus

from .compare import differences

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _protobuf_net(text):
    raw = parse_net(text, upgrade=False)
    open_inputs = [] if len(raw.input_shape) or len(raw.input_dim) else list(raw.input)
    return dnn.Net(upgrade_parsed_net(raw), None, "<t>", open_inputs, tables_only=True)


def _same_tables(text):
    """The light tables of ``text`` equal the protobuf Net's (False: the light reader left
    the text to protobuf)."""
    deploy = light_deploy.read(text, "<t>")
    if deploy is None:
        return False
    try:
        want = _protobuf_net(text)
    except Exception:                 # noqa: BLE001 - a definition the Net refuses
        pytest.fail("the light reader took a definition the protobuf Net refuses")
    inputs, shapes, engine, layers = light_tables(deploy)
    assert (inputs, shapes, layers) == (want._inputs, want._input_shapes, want._layers)
    assert len(engine) == len(want._param.layer)
    for got, pb in zip(engine, want._param.layer):
        assert differences(got, pb) == [], got.name
    assert deploy.name == want._param.name
    return True


@pytest.mark.parametrize("name", sorted(NETS))
def test_public_nets_give_the_same_tables_and_layers(name):
    text = NETS[name]["build"]()
    taken = _same_tables(text)
    assert taken or "(V" in name          # the legacy formats are the protobuf reader's


def test_every_net_of_the_project_gives_the_same_tables_and_layers():
    taken = 0
    for path in _corpus():
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if "base_lr" in text or "layer" not in text:
            continue
        try:
            _protobuf_net(text)
        except Exception:             # noqa: BLE001 - not a deploy net dnn reads
            continue
        taken += _same_tables(text)
    assert taken > 10


INPUT_FORMS = [
    'name: "f"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n',
    'name: "f"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n',
    'name: "f"\ninput: "data"\n',
    'name: "f"\ninput: "a"\ninput: "b"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
    'input_shape { dim: 1 dim: 2 dim: 8 dim: 8 }\n',
]
BODY = ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        'convolution_param { num_output: 2 kernel_size: 3 } }\n'
        'layer { name: "r" type: "ReLU" bottom: "c" top: "c" }\n'
        'layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" param { lr_mult: 0 } '
        'param { lr_mult: 0 } param { lr_mult: 0 } }\n'
        'layer { name: "acc" type: "Accuracy" bottom: "c" top: "acc" include { phase: TRAIN } }\n'
        'layer { name: "c" type: "Pooling" bottom: "c" top: "p" include { phase: TEST } }\n')


@pytest.mark.parametrize("head", INPUT_FORMS)
def test_input_fields_phase_rules_repeats_and_old_batchnorm_params(head):
    assert _same_tables(head + BODY.replace('"data"', '"a"' if '"a"' in head else '"data"'))


def test_forms_the_upgrade_refuses_are_left_to_it():
    for head in ('input: "a"\ninput: "b"\ninput_shape { dim: 1 }\n',
                 'input: "a"\ninput_dim: 1\ninput_dim: 3\n',
                 'input: "a"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 1\ninput_dim: 1\n'
                 'input_dim: 7\n',
                 'layers { name: "x" type: RELU }\n',
                 'layer { name: "x" type: "ReLU" include { phase: TEST } '
                 'exclude { phase: TRAIN } }\n'):
        assert light_deploy.read(head, "<t>") is None


def _two_ways(text, model, monkeypatch):
    light = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    assert "_reread" in light.__dict__
    with monkeypatch.context() as m:
        m.setattr(readers, "_light_net", lambda *a: None)
        pb = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    assert "_reread" not in pb.__dict__
    return light, pb


@pytest.mark.parametrize("kind", ["classification", "ssd"])
def test_the_same_model_and_outputs_as_the_protobuf_reader(kind, monkeypatch):
    # a cv2.dnn program has imported OpenCV before it reads: both reads then choose the same
    # runtime (caffe_compat.onnx_path.runtime.choose), whatever ran in this process before
    pytest.importorskip("cv2")
    monkeypatch.setattr(lite, "MODE", "on")
    text, blobs = zoo_nets.squeezenet11() if kind == "classification" else nets.res10_ssd(300)
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    light, pb = _two_ways(text, model, monkeypatch)
    plans = [net._torch_free._checked[3] for net in (light, pb)]
    assert b"".join(plans[0].model) == b"".join(plans[1].model)
    shape = light._input_shapes[light._inputs[0]]
    x = np.random.default_rng(1).uniform(0, 255, shape).astype(np.float32)
    outs = []
    for net in (light, pb):
        net.setInput(x)
        outs.append(net.forward())
    np.testing.assert_array_equal(outs[0], outs[1])
    assert "_reread" in light.__dict__        # the forward needed nothing of protobuf


def test_the_protobuf_side_is_read_when_asked_for(monkeypatch):
    monkeypatch.setattr(lite, "MODE", "on")
    text, blobs = zoo_nets.squeezenet11()
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    light, pb = _two_ways(text, model, monkeypatch)
    for a, b in zip(light.getParam("conv1", 0), pb.getParam("conv1", 0)):
        np.testing.assert_array_equal(a, b)
    assert "_reread" not in light.__dict__
    assert light._param == pb._param
    np.testing.assert_array_equal(light.getLayer(1).blobs[0], pb.getLayer(1).blobs[0])


def test_a_different_protobuf_reading_is_an_error(monkeypatch):
    monkeypatch.setattr(lite, "MODE", "on")
    text, blobs = zoo_nets.squeezenet11()
    net = dnn.readNetFromCaffe(bufferProto=text.encode(),
                               bufferModel=nets.caffemodel_bytes(text, blobs, seed=0))
    inputs, shapes, layers = net._light_tables
    net._light_tables = (inputs, shapes, layers[:-1])
    with pytest.raises(NetError, match="read this net differently"):
        net.getParam("conv1", 0)


def test_python_layers_and_the_switch_take_the_protobuf_reader(monkeypatch):
    text, blobs = zoo_nets.squeezenet11()
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    monkeypatch.setattr(lite, "MODE", "off")
    assert "_reread" not in dnn.readNetFromCaffe(bufferProto=text.encode(),
                                                 bufferModel=model).__dict__
    monkeypatch.setattr(lite, "MODE", "on")

    class Relu:
        def __init__(self, params, blobs):
            pass

        def getMemoryShapes(self, inputs):      # noqa: N802 - OpenCV's names
            return inputs

        def forward(self, inputs):
            return [np.maximum(inputs[0], 0)]
    dnn.registerLayer("ReLU", Relu)
    try:
        assert "_reread" not in dnn.readNetFromCaffe(bufferProto=text.encode(),
                                                     bufferModel=model).__dict__
    finally:
        dnn.unregisterLayer("ReLU")


PROGRAM = """
import json, sys
import numpy as np
from caffe_compat import dnn
net = dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
net.setInput(np.zeros((1, 3, 227, 227), np.float32))
out = net.forward()
print(json.dumps({"protobuf": any(m.startswith("google.protobuf") for m in sys.modules),
                  "torch": "torch" in sys.modules, "shape": list(out.shape)}))
"""


def test_a_one_shot_program_imports_no_protobuf(tmp_path):
    text, blobs = zoo_nets.squeezenet11()
    (tmp_path / "deploy.prototxt").write_text(text)
    (tmp_path / "w.caffemodel").write_bytes(nets.caffemodel_bytes(text, blobs, seed=0))
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop(lite.ENV, None)
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path / "deploy.prototxt"),
                          str(tmp_path / "w.caffemodel")], env=env, capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"protobuf": False, "torch": False, "shape": [1, 1000, 1, 1]}
