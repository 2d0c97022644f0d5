"""The file tools behind ``caffe-compat inspect | upgrade | convert``, on Caffe-written files."""
import numpy as np
import pytest
import torch

from caffe_compat import CaffeCompatError, Net, PrototxtError, WeightsError, errors
from caffe_compat.tools import files as tools
from caffe_compat.net.graph import build_graph
from caffe_compat.io.caffemodel import caffemodel_bytes, read_caffemodel, write_caffemodel
from caffe_compat.io.prototxt import parse_net, read_net
from tests.conftest import fixture_path, public_input

ZOO = ["layerzoo_a_conv", "layerzoo_a_act", "layerzoo_a_struct", "layerzoo_a_misc",
       "layerzoo_a_loss"]
LEGACY_DEPLOY = ["model_1F_CNN+D.prototxt", "SRCNN_net.prototxt"]


@pytest.mark.parametrize("folder", ZOO + ["deploy_cnnd"])
def test_caffemodel_summary(folder):
    base = fixture_path("caffe-reference", "forward", folder)
    summary = tools.caffemodel_summary(base / "init.caffemodel")
    graph = build_graph(read_net(base / "net.prototxt"), "TEST")   # as Caffe saved it
    assert [l["name"] for l in summary["layers"]] == [n.name for n in graph.layers]
    assert [l["type"] for l in summary["layers"]] == [n.type for n in graph.layers]
    if (base / "params.npz").exists():
        with np.load(base / "params.npz") as params:
            shapes = {f"{l['name']}/{i}": s for l in summary["layers"]
                      for i, s in enumerate(l["blobs"])}
            assert shapes == {k: params[k].shape for k in params.files}
            assert summary["parameters"] == sum(params[k].size for k in params.files)
    assert all(set(l["dtypes"]) <= {"float32"} for l in summary["layers"])
    text = tools.format_summary(summary, architecture="something")
    lines = text.splitlines()
    assert lines[0].startswith(f"{base / 'init.caffemodel'}: net '{summary['name']}', "
                               f"{len(summary['layers'])} layers")
    assert lines[-1] == "detected architecture: something"
    assert len(lines) == len(summary["layers"]) + 3


def test_summary_of_the_cnnd_deploy_weights():
    summary = tools.caffemodel_summary(fixture_path("caffe-reference", "forward", "deploy_cnnd",
                                                   "init.caffemodel"))
    text = tools.format_summary(summary)
    print("\n" + text)
    assert summary["parameters"] == 2_946_649
    assert "15 layers (5 with parameters), 2,946,649 parameters (11.2 MiB as float32)" in text
    fc4 = next(line for line in text.splitlines() if line.strip().startswith("fc4"))
    assert fc4.split() == ["fc4", "InnerProduct", "300x6400", "300", "(1,920,300)"]
    relu = next(line for line in text.splitlines() if line.strip().startswith("relu1"))
    assert relu.split() == ["relu1", "ReLU", "-"]


@pytest.mark.parametrize("name", LEGACY_DEPLOY)
def test_upgrade_legacy_deploy_files(name, tmp_path):
    src = public_input("original", "deploy", name)
    assert "input_dim" in src.read_text()
    text = tools.upgrade_prototxt(src, tmp_path / "up.prototxt")
    assert "input_dim" not in text and 'type: "Input"' in text
    assert (tmp_path / "up.prototxt").read_text() == text
    again = parse_net(text)
    assert again == read_net(src)                     # nothing lost or changed
    first = again.layer[0]
    assert (first.type, list(first.top)) == ("Input", ["data", "label"])
    assert [list(s.dim) for s in first.input_param.shape] == \
        [[1, 1, 96, 96], [1, 1, 1, 1] if name.startswith("model") else [1, 1, 80, 80]]
    assert Net(tmp_path / "up.prototxt").layer_names == Net(src).layer_names


def test_state_dict_round_trip_is_bit_exact(tmp_path):
    weights = fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel")
    deploy = public_input("original", "deploy", "model_1F_CNN+D.prototxt")
    sd = tools.caffemodel_to_state_dict(weights)
    assert list(sd) == [f"{l}.{b}" for l in ("conv1", "conv2", "conv3", "fc4", "fc5")
                        for b in ("weight", "bias")]
    tools.save_state_dict(sd, tmp_path / "w.pt")
    back = tools.load_state_dict_file(tmp_path / "w.pt")
    assert all(torch.equal(sd[k], back[k]) for k in sd)
    tools.state_dict_to_caffemodel(back, deploy, tmp_path / "w.caffemodel")
    assert (tmp_path / "w.caffemodel").read_bytes() == weights.read_bytes()


def test_state_dict_round_trip_of_a_legacy_caffemodel(tmp_path):
    """Old caffemodels store every blob as num x channels x height x width; the state_dict
    keeps those shapes and converting back fits them as Caffe's Blob::ShapeEquals does."""
    weights = fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel")
    deploy = public_input("original", "deploy", "model_1F_CNN+D.prototxt")
    legacy = read_caffemodel(weights)
    for layer in legacy.layer:
        for blob in layer.blobs:
            dims = list(blob.shape.dim)
            blob.ClearField("shape")
            blob.num, blob.channels, blob.height, blob.width = [1] * (4 - len(dims)) + dims
    write_caffemodel(legacy, tmp_path / "legacy.caffemodel")
    sd = tools.caffemodel_to_state_dict(tmp_path / "legacy.caffemodel")
    assert tuple(sd["fc4.weight"].shape) == (1, 1, 300, 6400)
    tools.state_dict_to_caffemodel(sd, deploy, tmp_path / "w.caffemodel")
    assert (tmp_path / "w.caffemodel").read_bytes() == weights.read_bytes()
    # a shape that Caffe would refuse is still refused, naming the key
    sd["fc4.weight"] = sd["fc4.weight"].reshape(1, 1, 6400, 300)
    with pytest.raises(WeightsError, match=r"'fc4.weight': shape \(1, 1, 6400, 300\)"):
        tools.state_dict_to_caffemodel(sd, deploy, tmp_path / "bad.caffemodel")


def test_layer_zoo_state_dict_round_trip(tmp_path):
    base = fixture_path("caffe-reference", "forward", "layerzoo_a_struct")
    sd = tools.caffemodel_to_state_dict(base / "init.caffemodel")
    assert {"bn.mean", "bn.variance", "bn.scale_factor"} <= set(sd)
    tools.state_dict_to_caffemodel(sd, base / "net.prototxt", tmp_path / "w.caffemodel")
    assert (tmp_path / "w.caffemodel").read_bytes() == (base / "init.caffemodel").read_bytes()


def _wrong_files(tmp_path):
    proto = public_input("original", "deploy", "model_1F_CNN+D.prototxt")
    model = fixture_path("caffe-reference", "forward", "layerzoo_a_act", "init.caffemodel")
    state = fixture_path("caffe-reference", "train", "sr_pretrain", "snapshot_iter_20.solverstate")
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    return [
        (lambda: tools.caffemodel_summary(proto), WeightsError, proto, "a text file"),
        (lambda: tools.caffemodel_to_state_dict(state), WeightsError, state, ".solverstate"),
        (lambda: tools.caffemodel_summary(tmp_path / "empty.caffemodel"), WeightsError,
         tmp_path / "empty.caffemodel", "empty file"),
        (lambda: tools.caffemodel_summary(tmp_path / "missing.caffemodel"),
         errors.UnopenedWeightsError, tmp_path / "missing.caffemodel", "no such caffemodel file"),
        (lambda: tools.upgrade_prototxt(model), PrototxtError, model, "not UTF-8 text"),
        (lambda: tools.load_state_dict_file(model), WeightsError, model,
         "not a PyTorch state_dict file"),
        (lambda: tools.load_state_dict_file(proto), WeightsError, proto,
         "not a PyTorch state_dict file"),
    ]


def test_wrong_file_types_name_the_file(tmp_path):
    for call, kind, path, needle in _wrong_files(tmp_path):
        with pytest.raises(CaffeCompatError) as info:
            call()
        assert type(info.value) is kind
        message = str(info.value)
        assert message.startswith(str(path)) and needle in message, message


def test_state_dict_file_that_is_not_a_dict_of_tensors(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match=r"list\.pt: expected a dict of tensors"):
        tools.load_state_dict_file(tmp_path / "list.pt")


def test_duplicate_layer_names_with_blobs_refuse_conversion(tmp_path):
    net = Net('name: "d" layer { name: "in" type: "Input" top: "x" '
              "input_param { shape { dim: 2 dim: 3 } } } "
              'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "a" '
              "inner_product_param { num_output: 2 } }")
    proto = net.to_proto()
    proto.layer.add().CopyFrom(proto.layer[1])
    (tmp_path / "dup.caffemodel").write_bytes(caffemodel_bytes(proto))
    with pytest.raises(WeightsError, match=r"dup\.caffemodel: two layers named 'ip'"):
        tools.caffemodel_to_state_dict(tmp_path / "dup.caffemodel")
