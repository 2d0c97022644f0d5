"""Weights that do not cover a net (caffe_compat.diagnostics.weights_coverage): the rule, and
caffe_compat.Net's loads (binary and HDF5, one file or several, strict or not)."""
import warnings

import pytest
import torch

from caffe_compat import Net
from caffe_compat.diagnostics.weights_coverage import WeightsCoverage
from caffe_compat.errors import CaffeCompatError, WeightsError, WeightsMismatchWarning
from caffe_compat.solvers.weights import write_net_hdf5

DEPLOY = """name: "small"
input: "data"
input_shape { dim: 1 dim: 1 dim: 6 dim: 6 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 2 kernel_size: 3
                            weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "fc2" type: "InnerProduct" bottom: "conv1" top: "fc2"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
"""

# the training net of DEPLOY: its loss layer and its inputs carry no blobs
TRAIN = DEPLOY.replace('input: "data"\ninput_shape { dim: 1 dim: 1 dim: 6 dim: 6 }\n', """
layer { name: "input" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 1 dim: 1 dim: 6 dim: 6 } shape { dim: 1 dim: 3 } } }
""") + """layer { name: "loss" type: "EuclideanLoss" bottom: "fc2" bottom: "label" top: "loss" }
"""


def renamed(text, old="fc2", new="fc_out"):
    return text.replace(f'"{old}"', f'"{new}"')


@pytest.fixture
def trained(tmp_path):
    """(deploy net with random weights, its binary caffemodel, its HDF5 caffemodel)."""
    net = Net(DEPLOY, seed=3)
    path = tmp_path / "small.caffemodel"
    net.save(path)
    h5 = tmp_path / "small.caffemodel.h5"
    write_net_hdf5(net, h5)
    return net, path, h5


def no_mismatch_warning():
    """A context in which a WeightsMismatchWarning fails the test."""
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    warnings.simplefilter("error", WeightsMismatchWarning)
    return catcher


def test_the_rule_counts_layers_with_blobs_only():
    net_layers = [("data", []), ("conv1", ["c0", "c1"]), ("relu1", []), ("fc_out", ["f0", "f1"])]
    cover = WeightsCoverage("n", net_layers)
    cover.add("w.caffemodel", [("data", 0), ("conv1", 2), ("fc2", 2), ("loss", 0),
                               ("accuracy", 0)])
    assert cover.missing() == [("fc_out", 2)]
    assert cover.unused == ["fc2"]                 # data, loss, accuracy: no blobs, not named
    text = cover.message()
    assert text.startswith("w.caffemodel: these weights do not cover net 'n': ")
    assert "'fc_out' (2 blobs)" in text and "'fc2'" in text
    assert text.count("fc_out") == 1 and text.count("'fc2'") == 1     # each named once
    # the file's extra layers alone (a trained caffemodel in its deploy net): no mismatch
    full = WeightsCoverage("n", net_layers[:3]).add("w.caffemodel", [("conv1", 2), ("aux", 2)])
    assert full.message() is None


def test_a_shared_blob_is_covered_through_the_layer_the_file_holds():
    layers = [("a", [("a", 0)]), ("b", [("a", 0)]), ("c", [("c", 0)])]
    cover = WeightsCoverage("n", layers).add("w", [("b", 1), ("c", 1)])
    assert cover.missing() == []
    cover = WeightsCoverage("n", layers).add("w", [("c", 1)])
    assert cover.missing() == [("a", 1)]          # named once, under the first layer


def test_several_files_add_up():
    layers = [("a", ["a0"]), ("b", ["b0"])]
    cover = WeightsCoverage("n", layers).add("x", [("a", 1)]).add("y", [("b", 1)])
    assert cover.message() is None


def test_long_lists_are_cut():
    layers = [(f"l{i}", [i]) for i in range(30)]
    text = WeightsCoverage("n", layers).add("w", []).message()
    assert "'l11'" in text and "'l12'" not in text and "... and 18 more" in text


def test_deploy_and_its_trained_caffemodel_load_without_a_word(tmp_path, trained):
    src, path, h5 = trained
    train = Net(TRAIN, phase="train", seed=5)
    train.save(tmp_path / "train.caffemodel")    # holds input and loss layers without blobs
    catcher = no_mismatch_warning()
    try:
        Net(DEPLOY, weights=path)
        Net(DEPLOY, weights=h5)
        Net(DEPLOY, weights=str(tmp_path / "train.caffemodel"))
        Net(TRAIN, phase="train", weights=path)   # the deploy's weights in the training net
        # a net holding fewer layers than the file (GoogLeNet's deploy and its auxiliary heads)
        Net(DEPLOY.split('layer { name: "fc2"')[0], weights=path)
    finally:
        catcher.__exit__(None, None, None)


def test_a_renamed_layer_warns_naming_both_sides(trained):
    src, path, _ = trained
    with pytest.warns(WeightsMismatchWarning) as record:
        net = Net(renamed(DEPLOY), weights=path)
    assert len(record) == 1
    text = str(record[0].message)
    assert str(path) in text and "'fc_out' (2 blobs, <string>:" in text
    assert "keep their filler values" in text and "'fc2'" in text
    assert record[0].filename == __file__         # points at the call that loaded them
    # what Caffe does all the same: fc_out keeps its fillers, conv1 is copied
    assert torch.equal(net.params["conv1"][0], src.params["conv1"][0])
    assert not torch.equal(net.params["fc_out"][0], src.params["fc2"][0])


@pytest.mark.parametrize("hdf5", [False, True])
def test_copy_from_warns_and_strict_refuses(trained, hdf5):
    _, path, h5 = trained
    weights = h5 if hdf5 else path
    net = Net(renamed(DEPLOY), seed=1)
    before = {k: v.clone() for k, v in net.caffe_state_dict().items()}
    with pytest.warns(WeightsMismatchWarning, match="'fc_out'"):
        net.copy_from(weights)
    net = Net(renamed(DEPLOY), seed=1)
    with pytest.raises(WeightsError, match="fc_out") as info:
        net.copy_from(weights, strict=True)
    assert not isinstance(info.value, Warning) and str(weights) in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in net.caffe_state_dict().items())
    with pytest.raises(WeightsError, match="fc_out"):
        Net(renamed(DEPLOY), weights=weights, strict=True)


def test_the_warning_as_an_error_is_a_weights_error_and_copies_nothing(trained):
    _, path, _ = trained
    net = Net(renamed(DEPLOY), seed=1)
    before = {k: v.clone() for k, v in net.caffe_state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        with pytest.raises(WeightsError) as info:
            net.copy_from(path)
        with pytest.raises(CaffeCompatError):
            Net(renamed(DEPLOY), weights=path)
    assert isinstance(info.value, WeightsMismatchWarning)
    assert "these weights do not cover net 'small'" in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in net.caffe_state_dict().items())


def test_several_files_cover_the_net_together(tmp_path, trained):
    src, path, _ = trained
    conv_only = Net(DEPLOY.split('layer { name: "fc2"')[0], seed=2)
    conv_only.save(tmp_path / "conv.caffemodel")
    fc = Net(DEPLOY, seed=4)
    proto = fc.to_proto()
    keep = [lp for lp in proto.layer if lp.name == "fc2"]
    del proto.layer[:]
    proto.layer.extend(keep)
    from caffe_compat.io.caffemodel import write_caffemodel
    write_caffemodel(proto, tmp_path / "fc.caffemodel")
    catcher = no_mismatch_warning()
    try:
        net = Net(DEPLOY, weights=[tmp_path / "conv.caffemodel", tmp_path / "fc.caffemodel"])
    finally:
        catcher.__exit__(None, None, None)
    assert torch.equal(net.params["fc2"][0], fc.params["fc2"][0])
    with pytest.warns(WeightsMismatchWarning, match="'fc2'"):
        Net(DEPLOY, weights=[tmp_path / "conv.caffemodel"] * 2)


def test_a_blob_shape_mismatch_stays_an_error(tmp_path):
    Net(DEPLOY.replace("num_output: 3", "num_output: 4"), seed=0).save(tmp_path / "w.caffemodel")
    with pytest.raises(WeightsError, match=r"layer 'fc2' blob 0: shape mismatch"):
        Net(DEPLOY, weights=tmp_path / "w.caffemodel")


def test_hdf5_caffemodel_of_a_net_sharing_a_blob(tmp_path):
    """Net::ToHDF5 writes a shared blob under its owner only: no mismatch."""
    text = DEPLOY + """layer { name: "fc3" type: "InnerProduct" bottom: "conv1" top: "fc3"
        param { name: "shared_w" } param { name: "shared_b" }
        inner_product_param { num_output: 3 } }
    """
    text = text.replace('inner_product_param { num_output: 3 weight_filler',
                        'param { name: "shared_w" } param { name: "shared_b" }\n'
                        '        inner_product_param { num_output: 3 weight_filler')
    src = Net(text, seed=7)
    write_net_hdf5(src, tmp_path / "w.h5")
    catcher = no_mismatch_warning()
    try:
        net = Net(text, weights=tmp_path / "w.h5")
    finally:
        catcher.__exit__(None, None, None)
    assert torch.equal(net.params["fc3"][0], src.params["fc2"][0])
